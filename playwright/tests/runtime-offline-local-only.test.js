// A bare runtime (no service worker) under `local-only`, created online: offline, loading the
// model fails as `local-offline` (the fetch of the worker or the model failed; not a crash),
// and a run says it cannot run in this browser while offline, never mentioning the edge. Back
// online, the next run answers from the browser at once: the offline fault does not wait out
// the 60 s retry of other transient faults.

import assert from 'node:assert/strict';

import { assertAnswer, assertFailure, mlpVectors, runtimeScenario } from '../lib/runtime.js';

runtimeScenario('runtime offline local-only: the offline fault clears when the network is back', async (env) => {
  const vector = (await mlpVectors()).at(-1);
  await env.create('rt', { policy: 'local-only' });

  await env.browser.setOffline(true);
  assert.equal(await env.page.evaluate(() => window.rt.online()), false, 'the page knows it is offline');
  const load = assertFailure(await env.load('rt', 'mlp'), 'local-offline', 'load offline', { failure: 'local-offline' });
  assert.match(load.message, /offline/, 'the load says why');
  assert.equal((await env.stats('rt', 'mlp')).health, 'local-offline', 'health offline');
  const run = assertFailure(await env.run('rt', 'mlp', vector.inputs), 'inference-unavailable', 'run offline');
  assert.equal(run.reason, 'local-offline', 'run offline: reason');
  assert.doesNotMatch(run.message, /edge|anywhere/i, `local-only never mentions the edge: ${run.message}`);
  assert.equal(env.edgeRequests('mlp').length, 0, 'local-only never asks the edge');

  await env.browser.setOffline(false);
  assert.equal(await env.page.evaluate(() => window.rt.online()), true, 'the page knows it is online');
  assert.equal((await env.stats('rt', 'mlp')).health, 'unknown', 'the online event cleared the offline fault');
  const started = Date.now();
  assertAnswer(await env.run('rt', 'mlp', vector.inputs, {}, { timeoutMs: 10_000 }), { source: 'local', vector }, 'back online');
  assert.ok(Date.now() - started < 10_000, 'answered within seconds');
  assert.equal((await env.stats('rt', 'mlp')).health, 'healthy', 'health back online');
  assert.equal(env.edgeRequests('mlp').length, 0, 'local-only never asked the edge');
});
