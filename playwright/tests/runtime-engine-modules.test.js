// Each engine is a wasm module of its own, fetched by the runtime's worker only when a model is
// built on it: a page whose model runs on the CPU engine never requests the WebGPU engine
// (`tessera_runtime_webgpu.js` / `_bg.wasm`, wonnx + wgpu), and one forced onto WebGPU never
// requests the CPU engine (tract). Requests are counted at the proxy, in a fresh browser per
// scenario (an HTTP-cache hit would not reach it). A WebGPU engine that fails to import is a
// typed `webgpu-engine-unavailable` load failure, and the next load imports it again.

import assert from 'node:assert/strict';

import { assertAnswer, assertFailure, mlpVectors, runtimeScenario } from '../lib/runtime.js';

const WEBGPU_MODULE = /^\/tessera_runtime_webgpu(_bg\.wasm|\.js)/;
const CPU_MODULE = /^\/tessera_runtime_cpu(_bg\.wasm|\.js)/;

/** Loads `mlp` on runtime `id` and checks an answer from `engine`. */
async function answers(env, id, engine) {
  const vector = (await mlpVectors()).at(-1);
  const load = await env.load(id, 'mlp');
  assert.ok(load.ok, `${id}: ${JSON.stringify(load)}`);
  assert.equal(load.value.engine, engine, `${id}: engine`);
  const answer = assertAnswer(await env.run(id, 'mlp', vector.inputs), { source: 'local', vector }, id);
  assert.equal(answer.engine, engine, `${id}: the answer names its engine`);
}

runtimeScenario('runtime engine modules: a model on the CPU engine never fetches the WebGPU engine', async (env) => {
  // `auto` on this machine's software adapter picks the CPU engine; `cpu` forces it.
  await env.create('auto', { policy: 'local-only' });
  await answers(env, 'auto', 'tract-wasm');
  await env.create('cpu', { policy: 'local-only', engine: 'cpu' });
  await answers(env, 'cpu', 'tract-wasm');
  assert.ok(env.proxy.requests(CPU_MODULE).length >= 2, 'the CPU engine was fetched (glue and wasm)');
  assert.deepEqual(env.proxy.requests(WEBGPU_MODULE).map((e) => e.path), [], 'the WebGPU engine was never requested');
});

runtimeScenario('runtime engine modules: a model forced onto WebGPU never fetches the CPU engine; a failed import is typed and retried', async (env) => {
  const failing = env.proxy.addFault({ path: '/tessera_runtime_webgpu.js', status: 503 });
  await env.create('webgpu', { policy: 'local-only', engine: 'webgpu' });
  assertFailure(await env.load('webgpu', 'mlp'), 'webgpu-engine-unavailable', 'the WebGPU engine could not be fetched');
  assert.ok(failing.hits >= 1, 'the import reached the proxy');
  env.proxy.clearFaults();
  await answers(env, 'webgpu', 'wonnx-webgpu');
  assert.ok(env.proxy.requests(WEBGPU_MODULE).length >= 3, 'the WebGPU engine was fetched again (glue and wasm)');
  assert.deepEqual(env.proxy.requests(CPU_MODULE).map((e) => e.path), [], 'the CPU engine was never requested');
});
