// A runtime worker that traps (crash-worker.js: an uncaught WebAssembly.RuntimeError on its
// first run) is terminated: the request falls back to the edge with `worker-crashed`, the
// health says so, later requests keep going to the edge, and loading the model again spawns a
// new worker that answers locally.

import assert from 'node:assert/strict';

import { assertAnswer, mlpVectors, runtimeScenario } from '../lib/runtime.js';

runtimeScenario('runtime: a crashed worker falls back to the edge, and a respawned one answers locally', async (env) => {
  const vector = (await mlpVectors()).at(-1);
  await env.create('rt', { policy: 'prefer-local', workerUrl: '/crash-worker.js' });
  assertAnswer(await env.run('rt', 'mlp', vector.inputs), { source: 'edge', fallbackReason: 'worker-crashed', vector }, 'the crashing run');
  const stats = await env.stats('rt', 'mlp');
  assert.equal(stats.health, 'worker-crashed');
  assert.equal(stats.local.failures, 1);
  assertAnswer(
    await env.run('rt', 'mlp', vector.inputs),
    { source: 'edge', fallbackReason: 'worker-crashed', vector },
    'right after the crash the browser is not retried',
  );

  const reload = await env.load('rt', 'mlp');
  assert.ok(reload.ok, `loading again in a new worker: ${JSON.stringify(reload)}`);
  assert.equal((await env.stats('rt', 'mlp')).health, 'healthy');
  assertAnswer(await env.run('rt', 'mlp', vector.inputs), { source: 'local', vector }, 'the respawned worker');
  assert.ok(env.browser.logs.every((l) => !/uncaught/i.test(l) || /unreachable/.test(l)), 'nothing else went uncaught');
});
