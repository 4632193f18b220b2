// The runtime with WebGPU: the model is verified, self-tested and run in the browser, and for
// the same inputs the browser's answers and the edge's agree with each other and with the
// model's known answers.

import assert from 'node:assert/strict';

import { assertAnswer, maxDiff, mlpVectors, runtimeScenario } from '../lib/runtime.js';

runtimeScenario('runtime: local and edge answers agree within tolerance for the same inputs', async (env) => {
  const vectors = await mlpVectors();
  await env.create('rt', { policy: 'local-only' });
  const capabilities = await env.capabilities('rt');
  assert.ok(capabilities.ok, `WebGPU adapter found: ${JSON.stringify(capabilities)}`);

  const load = await env.load('rt', 'mlp');
  assert.ok(load.ok, `load: ${JSON.stringify(load)}`);
  assert.equal(load.value.vectorsPassed, vectors.length, 'every known-answer vector passed in the browser');
  assert.equal(load.value.source, 'shards', 'without a service worker the runtime fetched verified shards');

  for (const vector of vectors) {
    const local = assertAnswer(await env.run('rt', 'mlp', vector.inputs), { source: 'local', vector }, `local-only ${vector.name}`);
    const edge = assertAnswer(
      await env.run('rt', 'mlp', vector.inputs, { policy: 'edge-only' }),
      { source: 'edge', vector },
      `edge-only ${vector.name}`,
    );
    const between = maxDiff(local.outputs, { outputs: edge.outputs });
    assert.ok(between <= vector.tolerance, `${vector.name}: local and edge differ by ${between}`);
  }
  assert.equal(env.edgeRequests('mlp').length, vectors.length, 'edge-only asked the edge once per vector, local-only never');
  const stats = await env.stats('rt', 'mlp');
  assert.equal(stats.health, 'healthy');
  assert.equal(stats.local.answers, vectors.length);
  assert.equal(stats.edge.answers, vectors.length);
});
