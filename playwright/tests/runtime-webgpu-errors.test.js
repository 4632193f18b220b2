// WebGPU errors that wonnx does not raise surface as typed errors, and with the CPU engine the
// model still runs on this device. The Softmax classifier (`clf`) is refused by WebGPU's
// operator allow-list (`op-unsupported`), so `auto` runs it on the CPU engine; with the
// testing-only `allowUnlistedOps` its WebGPU session is built, Chromium rejects the Softmax WGSL
// shader, and instead of the zeros wonnx would return the load fails over to the CPU engine,
// reporting `webgpu-shader-compile-failed`. Forced onto WebGPU (`engine: 'webgpu'`), the load
// fails with that code, quoting the browser: `prefer-local` answers from the edge with that
// reason, `local-only` fails with it. A healthy model in the same runtime still runs.

import assert from 'node:assert/strict';

import { assertAnswer, assertFailure, clfVectors, mlpVectors, runtimeScenario } from '../lib/runtime.js';

const CODE = 'webgpu-shader-compile-failed';

runtimeScenario('runtime: a Softmax model runs on the CPU engine; a shader WebGPU rejects is reported and, forced onto WebGPU, falls back to the edge', async (env) => {
  const [vector] = await clfVectors();
  await env.create('listed', { policy: 'local-only' });
  const listed = await env.load('listed', 'clf');
  assert.ok(listed.ok, `load: ${JSON.stringify(listed)}`);
  assert.deepEqual([listed.value.engine, listed.value.engineReason], ['tract-wasm', 'op-unsupported']);
  const softmax = assertAnswer(await env.run('listed', 'clf', vector.inputs), { source: 'local', vector }, 'Softmax on the CPU');
  assert.equal(softmax.engine, 'tract-wasm');

  // Testing only: WebGPU builds the Softmax session; the browser rejects its shader; the CPU
  // engine takes over and says why.
  await env.create('unlisted', { policy: 'local-only', allowUnlistedOps: true, calibrateSoftwareAdapters: true });
  const failedOver = await env.load('unlisted', 'clf');
  assert.ok(failedOver.ok, `load: ${JSON.stringify(failedOver)}`);
  assert.equal(failedOver.value.engine, 'tract-wasm');
  assert.equal(failedOver.value.engineReason, 'webgpu-failed-calibration', JSON.stringify(failedOver.value));
  assertAnswer(await env.run('unlisted', 'clf', vector.inputs), { source: 'local', vector }, 'after WebGPU failed');

  await env.create('rt', { policy: 'prefer-local', allowUnlistedOps: true, engine: 'webgpu' });
  assertAnswer(await env.run('rt', 'clf', vector.inputs), { source: 'edge', fallbackReason: CODE, vector }, 'prefer-local');
  assert.equal((await env.stats('rt', 'clf')).health, CODE, 'the model is marked unusable locally');

  await env.create('strict', { policy: 'local-only', allowUnlistedOps: true, engine: 'webgpu' });
  const failed = assertFailure(await env.run('strict', 'clf', vector.inputs), CODE, 'local-only', { failure: CODE });
  assert.match(failed.message, /log must be called with a value > 0/, `the message quotes the browser: ${failed.message}`);
  assert.match(failed.message, /"clf"/, 'the message names the model');

  const mlp = (await mlpVectors()).at(-1);
  const healthy = assertAnswer(await env.run('strict', 'mlp', mlp.inputs), { source: 'local', vector: mlp }, 'a healthy model is not flagged');
  assert.equal(healthy.engine, 'wonnx-webgpu');
});
