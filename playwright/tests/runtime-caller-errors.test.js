// The caller's own mistakes are not faults to fall back from: an input of the wrong shape fails
// with `tensor-shape-mismatch` (failure null) in the browser and on the edge alike, without
// trying the other side or marking the model unhealthy, and an unknown policy is refused.

import assert from 'node:assert/strict';

import { assertAnswer, assertFailure, mlpVectors, runtimeScenario } from '../lib/runtime.js';

runtimeScenario('runtime: bad input is the caller\u2019s error (no fallback) and an unknown policy is refused', async (env) => {
  const vector = (await mlpVectors()).at(-1);
  const bad = { x: { dtype: 'float32', shape: [1, 3], data: [1, 2, 3] } };
  await env.create('rt', { policy: 'prefer-local' });
  assertAnswer(await env.run('rt', 'mlp', vector.inputs), { source: 'local', vector }, 'a good request first');

  assertFailure(await env.run('rt', 'mlp', bad), 'tensor-shape-mismatch', 'prefer-local', { failure: null });
  assert.equal(env.edgeRequests('mlp').length, 0, 'the edge was not asked');
  assertFailure(await env.run('rt', 'mlp', bad, { policy: 'edge-only' }), 'tensor-shape-mismatch', 'edge-only', { failure: null });
  assertFailure(await env.run('rt', 'mlp', bad, { policy: 'prefer-edge' }), 'tensor-shape-mismatch', 'prefer-edge', { failure: null });
  assert.equal(env.edgeRequests('mlp').length, 2, 'prefer-edge did not retry in the browser after the edge refused');
  const stats = await env.stats('rt', 'mlp');
  assert.equal(stats.health, 'healthy', 'bad input does not mark the model unhealthy');
  assert.equal(stats.local.failures + stats.edge.failures, 0, 'nor count as a failure');

  assertFailure(await env.run('rt', 'mlp', vector.inputs, { policy: 'fastest' }), 'policy-unknown', 'run with an unknown policy');
  assertFailure(await env.tryCreate('other', { policy: 'fastest' }), 'policy-unknown', 'create with an unknown policy');
});
