// `race` starts the browser and the edge at once and returns the first valid answer: with the
// edge held back by the proxy, the browser's answer wins and the edge request is aborted.
// (With WebGPU off the edge wins: runtime-no-webgpu.test.js.)

import assert from 'node:assert/strict';

import { assertAnswer, inferPath, mlpVectors, runtimeScenario } from '../lib/runtime.js';

runtimeScenario('runtime race: the browser answers first and the held-back edge request is aborted', async (env) => {
  const vector = (await mlpVectors()).at(-1);
  env.proxy.addFault({ path: inferPath('mlp'), method: 'POST', delayMs: 3000 });
  await env.create('rt', { policy: 'race' });
  assertAnswer(await env.run('rt', 'mlp', vector.inputs), { source: 'local', vector }, 'race');

  await env.proxy.waitFor(() => env.edgeRequests('mlp')[0]?.aborted, { timeoutMs: 5000, what: 'the edge request to be aborted' });
  const [edge] = env.edgeRequests('mlp');
  assert.equal(edge.status, null, 'the edge never answered the cancelled request');
  const stats = await env.stats('rt', 'mlp');
  assert.equal(stats.local.answers, 1);
  assert.equal(stats.edge.answers, 0, 'the loser is not counted as an answer');
  assert.equal(stats.edge.failures, 0, 'nor as a failure');
});
