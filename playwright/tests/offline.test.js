// Offline: once a model is ready, reloading the page offline still loads the app and serves the
// model, also after the browser stopped the service worker (it restarts from its caches).

import assert from 'node:assert/strict';

import { sha256Hex } from '../lib/fixtures.js';
import { assertServedExactly, scenario } from '../lib/scenario.js';

scenario('offline reload still serves the model, also after the worker was stopped', async (env) => {
  const weights = env.fixture.files.get('weights.bin');
  const ready = await env.ensure();
  assert.ok(ready.ok, `ensureModel failed: ${JSON.stringify(ready.error)}`);
  const seenOnline = env.proxy.log.length;

  await env.browser.setOffline(true);
  await env.load({ reload: true });
  assertServedExactly(await env.fetchModelFile('weights.bin'), weights, 'offline, after reload');
  const slice = await env.fetchModelFile('weights.bin', { range: 'bytes=100-199' });
  assert.equal(slice.status, 206);
  assert.equal(slice.sha256, sha256Hex(weights.subarray(100, 200)));
  const again = await env.ensure();
  assert.ok(again.ok, `ensureModel of a ready model failed offline: ${JSON.stringify(again.error)}`);
  assert.equal(again.status.state, 'ready');

  await env.browser.stopAllWorkers();
  await env.load({ reload: true });
  assertServedExactly(await env.fetchModelFile('weights.bin'), weights, 'offline, after worker restart');
  assertServedExactly(
    await env.fetchModelFile('config.json'),
    env.fixture.files.get('config.json'),
    'offline config.json after worker restart',
  );

  assert.equal(env.proxy.log.length, seenOnline, `requests reached the network while offline:\n${env.proxy.format()}`);
});
