// The browser stops the service worker in the middle of a download (as it does to idle or
// misbehaving workers): the next ensureModel resumes every shard that had stored progress from its
// stored offset, and progress picks up where it was instead of starting at 0.

import assert from 'node:assert/strict';

import {
  assertServedExactly,
  CHUNK_SIZE,
  rangeStart,
  scenario,
  shardOf,
  shardRequests,
  STALL_AT,
  stopMidDownload,
  totalBytes,
} from '../lib/scenario.js';

scenario('a worker stopped mid-download resumes from stored offsets on the next ensure', async (env) => {
  const { manifest, before: beforeRestart, interrupted } = await stopMidDownload(env);
  const total = totalBytes(manifest);

  const result = await env.ensure();
  assert.ok(result.ok, `ensureModel after the worker stop failed: ${JSON.stringify(result.error)}`);
  assert.equal(result.status.bytesDone, total);

  const afterRestart = shardRequests(env).slice(beforeRestart.length);
  for (const shard of interrupted) {
    const first = afterRestart.find((e) => shardOf(e) === shard);
    if (!first) continue; // completed before the stop
    assert.ok(
      rangeStart(first.range) >= CHUNK_SIZE,
      `shard ${shard.slice(0, 12)}… had ${STALL_AT} bytes but was re-requested with Range ${first.range}`,
    );
  }
  const refetched = env.proxy.bytesSent('/models/_shards/') - total;
  assert.ok(
    refetched <= interrupted.size * CHUNK_SIZE,
    `re-fetched ${refetched} bytes for ${interrupted.size} interrupted shards (at most one chunk each)`,
  );
  const firstDownloading = result.progress.find((s) => s.state === 'downloading');
  assert.ok(
    !firstDownloading || firstDownloading.bytesDone >= 2 * CHUNK_SIZE,
    `progress restarted from ${firstDownloading?.bytesDone} bytes instead of the stored progress: ` +
      JSON.stringify(result.progress.slice(0, 3)),
  );

  assertServedExactly(await env.fetchModelFile('weights.bin'), env.fixture.files.get('weights.bin'), 'weights.bin');
});
