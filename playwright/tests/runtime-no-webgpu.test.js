// The runtime in a browser without WebGPU (Chromium without --enable-unsafe-webgpu): the model
// still answers from this device, on the CPU engine (tract in its own wasm module), and the load
// report says why WebGPU was not used. Forced onto WebGPU (`engine: 'webgpu'`), the capability
// check says so before wonnx is touched: `prefer-local` and `race` answer from the edge with that
// reason, and `local-only` fails with it.

import assert from 'node:assert/strict';

import { assertAnswer, assertFailure, inferPath, mlpVectors, runtimeScenario } from '../lib/runtime.js';

/** What Chromium without the flag reports: an adapter-less navigator.gpu, or none at all. */
const NO_WEBGPU = ['no-adapter', 'no-webgpu'];

runtimeScenario(
  'runtime without WebGPU: the answer comes from this device on the CPU engine; forced onto WebGPU it falls back to the edge with the reason',
  async (env) => {
    const vectors = await mlpVectors();
    const vector = vectors.at(-1);
    await env.create('rt', { policy: 'local-only' });
    const capabilities = await env.capabilities('rt');
    assert.equal(capabilities.ok, false, 'no adapter is offered');
    assert.ok(NO_WEBGPU.includes(capabilities.code), `capability code: ${JSON.stringify(capabilities)}`);
    const reason = capabilities.code;

    const load = await env.load('rt', 'mlp');
    assert.ok(load.ok, `load: ${JSON.stringify(load)}`);
    assert.equal(load.value.engine, 'tract-wasm');
    assert.equal(load.value.engineReason, reason, 'the report says why not WebGPU');
    assert.equal(load.value.vectorsPassed, vectors.length, 'the CPU session passed the self-test');
    const local = assertAnswer(await env.run('rt', 'mlp', vector.inputs), { source: 'local', vector }, 'local-only, no WebGPU');
    assert.equal(local.engine, 'tract-wasm');
    assert.equal(env.edgeRequests('mlp').length, 0, 'the edge was never asked');

    await env.create('gpu', { policy: 'prefer-local', engine: 'webgpu' });
    assertAnswer(await env.run('gpu', 'mlp', vector.inputs), { source: 'edge', fallbackReason: reason, vector }, 'webgpu, prefer-local');
    assert.equal((await env.stats('gpu', 'mlp')).health, reason, 'the model is marked unusable locally, with the reason');

    // The edge held back a second, so the local side has certainly failed when it answers.
    env.proxy.addFault({ path: inferPath('mlp'), method: 'POST', delayMs: 1000, times: 1 });
    await env.create('fresh', { policy: 'race', engine: 'webgpu' });
    const raced = assertAnswer(await env.run('fresh', 'mlp', vector.inputs), { source: 'edge', fallbackReason: reason, vector }, 'race');
    assert.ok(['tract-native', 'wonnx-wgpu'].includes(raced.engine), `the edge's engine is reported: ${raced.engine}`);
    assert.equal((await env.stats('fresh', 'mlp')).health, reason, 'the race recorded the local failure');

    await env.create('strict', { policy: 'local-only', engine: 'webgpu' });
    assertFailure(await env.run('strict', 'mlp', vector.inputs), reason, 'local-only', { failure: reason });
    assertFailure(await env.run('gpu', 'mlp', vector.inputs, { policy: 'local-only' }), 'inference-unavailable', 'local-only after the check');
    assert.equal(env.edgeRequests('mlp').length, 2, 'only prefer-local and race asked the edge');
  },
  { webgpu: false },
);
