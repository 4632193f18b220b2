// Offline, `prefer-edge` answers from the browser with fallbackReason `offline` and sends
// nothing to the network; a runtime whose worker starts online also loads the model offline
// (its manifest from the runtime's Cache Storage copy, its immutable shards from the HTTP
// cache: so the models come from `/models/`, served as `tessera serve` serves artifacts). Back
// online, the edge answers again.

import assert from 'node:assert/strict';

import { assertAnswer, mlpVectors, runtimeScenario } from '../lib/runtime.js';

runtimeScenario('runtime offline: prefer-edge answers from the browser, saying why', async (env) => {
  const vector = (await mlpVectors()).at(-1);
  const models = { modelsBase: '/models/' };
  await env.create('rt', { policy: 'prefer-edge', ...models });
  assertAnswer(await env.run('rt', 'mlp', vector.inputs), { source: 'edge', vector }, 'online');
  const load = await env.load('rt', 'mlp');
  assert.ok(load.ok, `load online: ${JSON.stringify(load)}`);
  await env.create('fresh', { policy: 'prefer-edge', ...models });
  assert.ok((await env.capabilities('fresh')).ok, 'the fresh runtime started its worker online');

  await env.browser.setOffline(true);
  assert.equal(await env.page.evaluate(() => window.rt.online()), false, 'the page knows it is offline');
  const seen = env.proxy.log.length;
  assertAnswer(await env.run('rt', 'mlp', vector.inputs), { source: 'local', fallbackReason: 'offline', vector }, 'offline');
  assertAnswer(
    await env.run('fresh', 'mlp', vector.inputs),
    { source: 'local', fallbackReason: 'offline', vector },
    'offline, loading the model in a fresh worker',
  );
  assert.equal(env.proxy.log.length, seen, `nothing reached the network offline:\n${env.proxy.format()}`);

  await env.browser.setOffline(false);
  assertAnswer(await env.run('rt', 'mlp', vector.inputs), { source: 'edge', vector }, 'back online');
});
