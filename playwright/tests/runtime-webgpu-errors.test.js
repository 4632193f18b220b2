// WebGPU errors that wonnx does not raise surface as typed errors. The Softmax classifier
// (`clf`) is refused up front by the operator allow-list (`op-unsupported`); with the
// testing-only `allowUnlistedOps` its session is built, Chromium rejects the Softmax WGSL
// shader, and instead of the zeros wonnx would return the runtime fails the load with
// `webgpu-shader-compile-failed`, quoting the browser: `prefer-local` answers from the edge
// with that reason, `local-only` fails with it. A healthy model in the same runtime still runs.

import assert from 'node:assert/strict';

import { assertAnswer, assertFailure, clfVectors, mlpVectors, runtimeScenario } from '../lib/runtime.js';

const CODE = 'webgpu-shader-compile-failed';

runtimeScenario('runtime: a shader WebGPU rejects fails with webgpu-shader-compile-failed and falls back', async (env) => {
  const [vector] = await clfVectors();
  await env.create('listed', { policy: 'prefer-local' });
  assertAnswer(await env.run('listed', 'clf', vector.inputs), { source: 'edge', fallbackReason: 'op-unsupported', vector }, 'allow-list');

  await env.create('rt', { policy: 'prefer-local', allowUnlistedOps: true });
  assertAnswer(await env.run('rt', 'clf', vector.inputs), { source: 'edge', fallbackReason: CODE, vector }, 'prefer-local');
  assert.equal((await env.stats('rt', 'clf')).health, CODE, 'the model is marked unusable locally');

  await env.create('strict', { policy: 'local-only', allowUnlistedOps: true });
  const failed = assertFailure(await env.run('strict', 'clf', vector.inputs), CODE, 'local-only', { failure: CODE });
  assert.match(failed.message, /log must be called with a value > 0/, `the message quotes the browser: ${failed.message}`);
  assert.match(failed.message, /"clf"/, 'the message names the model');

  const mlp = (await mlpVectors()).at(-1);
  assertAnswer(await env.run('strict', 'mlp', mlp.inputs), { source: 'local', vector: mlp }, 'a healthy model is not flagged');
});
