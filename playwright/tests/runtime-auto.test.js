// `auto` measures both sides and sends requests to the faster one: with the edge held back
// 400 ms per request by the proxy, the first request measures the browser, the second re-probes
// the edge (`reprobe-edge`), and the rest run in the browser, the faster side.

import assert from 'node:assert/strict';

import { assertAnswer, inferPath, mlpVectors, runtimeScenario } from '../lib/runtime.js';

const EDGE_DELAY_MS = 400;

runtimeScenario('runtime auto: measures both sides and chooses the faster one', async (env) => {
  const vector = (await mlpVectors()).at(-1);
  env.proxy.addFault({ path: inferPath('mlp'), method: 'POST', delayMs: EDGE_DELAY_MS });
  await env.create('rt', { policy: 'auto' });

  assertAnswer(await env.run('rt', 'mlp', vector.inputs), { source: 'local', vector }, 'first: the browser is measured');
  assertAnswer(
    await env.run('rt', 'mlp', vector.inputs),
    { source: 'edge', fallbackReason: 'reprobe-edge', vector },
    'second: the edge is measured',
  );
  for (let i = 0; i < 3; i += 1) {
    assertAnswer(await env.run('rt', 'mlp', vector.inputs), { source: 'local', vector }, `then the faster side (${i})`);
  }

  const stats = await env.stats('rt', 'mlp');
  assert.equal(stats.local.answers, 4, JSON.stringify(stats));
  assert.equal(stats.edge.answers, 1, JSON.stringify(stats));
  assert.ok(stats.edge.emaMs >= EDGE_DELAY_MS, `the edge was measured with its delay: ${JSON.stringify(stats.edge)}`);
  assert.ok(stats.local.emaMs < stats.edge.emaMs, `the chosen side is the faster one: ${JSON.stringify(stats)}`);
  assert.equal(env.edgeRequests('mlp').length, 1, 'only the probe went to the edge');
});
