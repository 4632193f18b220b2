// The runtime in a browser without WebGPU (Chromium without --enable-unsafe-webgpu): the
// capability check says so before wonnx is touched, `prefer-local` and `race` answer from the
// edge with that reason, and `local-only` fails with it.

import assert from 'node:assert/strict';

import { assertAnswer, assertFailure, inferPath, mlpVectors, runtimeScenario } from '../lib/runtime.js';

/** What Chromium without the flag reports: an adapter-less navigator.gpu, or none at all. */
const NO_WEBGPU = ['no-adapter', 'no-webgpu'];

runtimeScenario(
  'runtime without WebGPU: prefer-local and race answer from the edge with the reason, local-only fails with it',
  async (env) => {
    const vector = (await mlpVectors()).at(-1);
    await env.create('rt', { policy: 'prefer-local' });
    const capabilities = await env.capabilities('rt');
    assert.equal(capabilities.ok, false, 'no adapter is offered');
    assert.ok(NO_WEBGPU.includes(capabilities.code), `capability code: ${JSON.stringify(capabilities)}`);
    const reason = capabilities.code;

    assertAnswer(await env.run('rt', 'mlp', vector.inputs), { source: 'edge', fallbackReason: reason, vector }, 'prefer-local');
    assert.equal((await env.stats('rt', 'mlp')).health, reason, 'the model is marked unusable locally, with the reason');

    // The edge held back a second, so the local side has certainly failed when it answers.
    env.proxy.addFault({ path: inferPath('mlp'), method: 'POST', delayMs: 1000, times: 1 });
    await env.create('fresh', { policy: 'race' });
    assertAnswer(await env.run('fresh', 'mlp', vector.inputs), { source: 'edge', fallbackReason: reason, vector }, 'race');
    assert.equal((await env.stats('fresh', 'mlp')).health, reason, 'the race recorded the local failure');

    await env.create('strict', { policy: 'local-only' });
    assertFailure(await env.run('strict', 'mlp', vector.inputs), reason, 'local-only', { failure: reason });
    assertFailure(await env.run('rt', 'mlp', vector.inputs, { policy: 'local-only' }), 'inference-unavailable', 'local-only after the check');
    assert.equal(env.edgeRequests('mlp').length, 2, 'only prefer-local and race asked the edge');
  },
  { webgpu: false },
);
