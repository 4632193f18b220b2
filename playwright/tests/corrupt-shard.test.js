// A shard corrupted on the server (one byte flipped on disk): the model is never served, the page
// sees `shard-hash-mismatch` from ensureModel and from a fetch of the file, retries are bounded,
// and once the server is repaired the next ensureModel succeeds.

import assert from 'node:assert/strict';

import { sha256Hex } from '../lib/fixtures.js';
import { assertNoModelFileFetched, assertServedExactly, rangeStart, scenario, shardOf, shardRequests } from '../lib/scenario.js';

scenario('a corrupted shard is never served and reports shard-hash-mismatch', async (env) => {
  const manifest = await env.fixture.manifest('1.0.0');
  const bad = manifest.files.find((f) => f.path === 'weights.bin').shards[2].sha256;
  await env.fixture.flipShardByte(bad);
  const corrupted = Buffer.from(env.fixture.files.get('weights.bin'));
  corrupted[2 * 1024 * 1024 + 12345] ^= 0xff;

  const result = await env.ensure();
  assert.equal(result.ok, false, 'ensureModel succeeded with a corrupted shard');
  assert.equal(result.error.code, 'shard-hash-mismatch', JSON.stringify(result.error));

  const info = await env.fetchModelFile('weights.bin');
  assert.equal(info.fromServiceWorker, true, 'the file request was not answered by the worker');
  assert.ok(info.status >= 400, `a corrupted model was answered with ${info.status}`);
  assert.notEqual(info.sha256, sha256Hex(corrupted), 'the corrupted bytes were served');
  assert.equal(info.json?.error?.code, 'shard-hash-mismatch', `error body: ${JSON.stringify(info.json)}`);
  const slice = await env.fetchModelFile('weights.bin', { range: 'bytes=2097152-2200000' });
  assert.ok(slice.status >= 400, `a Range over the corrupted shard was answered with ${slice.status}`);

  const status = await env.status();
  assert.ok(status.ok, JSON.stringify(status.error));
  assert.notEqual(status.status.state, 'ready');
  assert.equal(status.status.error?.code, 'shard-hash-mismatch');

  // Three requests gave up above (ensure, fetch, Range fetch); each may retry a few times, never
  // forever. An attempt is a download of the shard from byte 0 (in Range requests of one chunk).
  const attempts = shardRequests(env).filter((e) => shardOf(e) === bad && (!e.range || rangeStart(e.range) === 0)).length;
  assert.ok(attempts >= 3 && attempts <= 12, `the corrupted shard was requested ${attempts} times (bounded retries expected)`);
  assertNoModelFileFetched(env);

  // The server is fixed: the model becomes available without clearing anything by hand.
  await env.fixture.flipShardByte(bad);
  const repaired = await env.ensure();
  assert.ok(repaired.ok, `ensureModel after the repair failed: ${JSON.stringify(repaired.error)}`);
  assertServedExactly(await env.fetchModelFile('weights.bin'), env.fixture.files.get('weights.bin'), 'weights.bin');
});
