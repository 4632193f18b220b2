// Offline before the model was ever downloaded: ensureModel and a file request fail with
// `network` (nothing verified to serve), and once back online the same page gets the model.

import assert from 'node:assert/strict';

import { assertServedExactly, scenario } from '../lib/scenario.js';

scenario('offline with nothing stored reports network, and recovers online', async (env) => {
  await env.browser.setOffline(true);
  const result = await env.ensure();
  assert.equal(result.ok, false, 'ensureModel succeeded offline with nothing stored');
  assert.equal(result.error.code, 'network', JSON.stringify(result.error));

  const info = await env.fetchModelFile('weights.bin');
  assert.equal(info.fromServiceWorker, true);
  assert.ok(info.status >= 500, `answered ${info.status} offline with nothing stored`);
  assert.equal(info.json?.error?.code, 'network', `error body: ${JSON.stringify(info.json)}`);

  await env.browser.setOffline(false);
  const online = await env.ensure();
  assert.ok(online.ok, `ensureModel back online failed: ${JSON.stringify(online.error)}`);
  assertServedExactly(await env.fetchModelFile('weights.bin'), env.fixture.files.get('weights.bin'), 'weights.bin');
});
