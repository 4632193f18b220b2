// First load: ensureModel downloads and verifies the model with progress, and the service worker
// then answers model files itself with the exact published bytes and the documented headers.

import assert from 'node:assert/strict';

import { EXPECTED_STORAGE, assertNoModelFileFetched, assertServedExactly, assertShardsFetchedOnce, scenario, totalBytes } from '../lib/scenario.js';
import { uniqueShards } from '../lib/fixtures.js';

scenario('first load serves the exact bytes and reports monotonic progress up to the total', async (env) => {
  const manifest = await env.fixture.manifest('1.0.0');
  const total = totalBytes(manifest);

  const result = await env.ensure();
  assert.ok(result.ok, `ensureModel failed: ${JSON.stringify(result.error)}`);
  assert.equal(result.status.state, 'ready');
  assert.equal(result.status.version, '1.0.0');
  assert.equal(result.status.bytesTotal, total);
  assert.equal(result.status.bytesDone, total);
  assert.equal(result.status.shardsDone, result.status.shardsTotal);
  assert.equal(result.status.error, null);
  // Chromium offers OPFS in a service worker: verified shards are files there (the IndexedDB
  // fallback when the suite runs with TESSERA_TEST_STORAGE=indexeddb).
  assert.equal(result.status.storage, EXPECTED_STORAGE);

  // Progress a user's progress bar would show: it moves, never goes back, and reaches the total.
  const downloading = result.progress.filter((s) => s.bytesTotal === total);
  assert.ok(downloading.length >= 2, `expected several progress events, got ${JSON.stringify(result.progress)}`);
  for (let i = 1; i < result.progress.length; i += 1) {
    assert.ok(
      result.progress[i].bytesDone >= result.progress[i - 1].bytesDone,
      `progress went backwards at event ${i}: ${result.progress[i - 1].bytesDone} -> ${result.progress[i].bytesDone}`,
    );
  }
  assert.ok(
    result.progress.some((s) => s.bytesDone > 0 && s.bytesDone < total),
    'no intermediate progress event between 0 and the total',
  );
  assert.equal(result.progress.at(-1).bytesDone, total, 'the last progress event does not reach the total');
  const broadcasts = await env.page.evaluate(() => window.harness.broadcasts);
  assert.ok(
    broadcasts.some((s) => s.model === env.model),
    'no progress was broadcast to the page (Tessera.onProgress)',
  );

  const weights = await env.fetchModelFile('weights.bin');
  assertServedExactly(weights, env.fixture.files.get('weights.bin'), 'weights.bin');
  const weightsEntry = manifest.files.find((f) => f.path === 'weights.bin');
  assert.equal(weights.headers['content-type'], 'application/octet-stream');
  assert.equal(weights.headers['content-length'], String(weightsEntry.size));
  assert.equal(weights.headers.etag, `"${weightsEntry.sha256}"`);
  assert.equal(weights.headers['accept-ranges'], 'bytes');
  assert.equal(weights.headers['x-tessera-version'], '1.0.0');

  const config = await env.fetchModelFile('config.json');
  assertServedExactly(config, env.fixture.files.get('config.json'), 'config.json');
  assert.equal(config.headers['content-type'], 'application/json');

  const missing = await env.fetchModelFile('missing.bin');
  assert.equal(missing.status, 404);
  assert.equal(missing.json?.error?.code, 'file-not-found');
  assert.equal(missing.fromServiceWorker, true);

  // On a clean network every shard's bytes are fetched once (in Range requests of at most one
  // chunk), and nothing else of the model.
  assertShardsFetchedOnce(env, uniqueShards(manifest), 'first load');
  assert.equal(env.proxy.bytesSent('/models/_shards/'), total);
  assertNoModelFileFetched(env);
});
