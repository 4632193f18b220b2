// Which engine runs a model in the browser, and that it says so. On this machine's software
// WebGPU adapter (SwiftShader: a GPU emulated on the CPU) `auto` runs the CPU engine
// (`software-adapter`); `engine: 'webgpu'` and `'cpu'` force one; answers of both engines
// agree with the known answers. With the testing-only `calibrateSoftwareAdapters` the adapter is
// treated as a real GPU: both engines are built and timed, the faster one (tract here) keeps
// the model, and a later runtime reads the cached verdict instead of calibrating again.

import assert from 'node:assert/strict';

import { assertAnswer, mlpVectors, runtimeScenario } from '../lib/runtime.js';

runtimeScenario('runtime engines: auto picks the CPU engine on a software adapter, either can be forced, and a calibration is cached', async (env) => {
  const vectors = await mlpVectors();
  const vector = vectors.at(-1);
  const capabilities = await env.capabilities(await created(env, 'probe', {}));
  assert.ok(capabilities.ok && capabilities.value.isFallbackAdapter, `a software adapter here: ${JSON.stringify(capabilities)}`);

  for (const [id, engine, expected, reason] of [
    ['auto', undefined, 'tract-wasm', 'software-adapter'],
    ['cpu', 'cpu', 'tract-wasm', 'engine-cpu-requested'],
    ['webgpu', 'webgpu', 'wonnx-webgpu', null],
  ]) {
    await env.create(id, { policy: 'local-only', ...(engine ? { engine } : {}) });
    const load = await env.load(id, 'mlp');
    assert.ok(load.ok, `${id}: ${JSON.stringify(load)}`);
    assert.equal(load.value.engine, expected, id);
    assert.equal(load.value.engineReason, reason, `${id}: reason`);
    assert.equal(load.value.calibration, null, `${id}: no calibration`);
    for (const v of vectors) {
      const answer = assertAnswer(await env.run(id, 'mlp', v.inputs), { source: 'local', vector: v }, `${id} ${v.name}`);
      assert.equal(answer.engine, expected, `${id}: the answer names its engine`);
    }
  }

  await env.create('calibrated', { policy: 'local-only', calibrateSoftwareAdapters: true });
  const first = await env.load('calibrated', 'mlp');
  assert.ok(first.ok, JSON.stringify(first));
  const { calibration } = first.value;
  assert.equal(calibration.cached, false);
  assert.ok(calibration.webgpuMs > 0 && calibration.cpuMs > 0, `both engines were timed: ${JSON.stringify(calibration)}`);
  const faster = calibration.cpuMs < calibration.webgpuMs ? 'tract-wasm' : 'wonnx-webgpu';
  assert.equal(calibration.picked, faster, 'the faster engine is picked');
  assert.equal(first.value.engine, faster);
  assertAnswer(await env.run('calibrated', 'mlp', vector.inputs), { source: 'local', vector }, 'calibrated');

  await env.create('again', { policy: 'local-only', calibrateSoftwareAdapters: true });
  const second = await env.load('again', 'mlp');
  assert.ok(second.ok, JSON.stringify(second));
  assert.deepEqual(second.value.calibration, { webgpuMs: null, cpuMs: null, picked: faster, cached: true }, 'the verdict is read, not measured again');
  assert.equal(second.value.engine, faster);
});

async function created(env, id, options) {
  await env.create(id, options);
  return id;
}
