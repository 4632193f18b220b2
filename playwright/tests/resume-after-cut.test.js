// A connection cut in the middle of a shard: the same ensureModel call still succeeds, the shard
// is resumed from its stored offset (a Range request, not byte 0), and no more than one chunk of
// bytes is fetched twice.

import assert from 'node:assert/strict';

import {
  assertNoModelFileFetched,
  assertServedExactly,
  CHUNK_SIZE,
  fullWeightShards,
  rangeStart,
  scenario,
  shardOf,
  shardRequests,
  totalBytes,
} from '../lib/scenario.js';

// Each Range request asks for at most one chunk (256 KiB), so the cut falls inside the first
// request of a shard. The worker stores what it had read when the connection fails, so the retry
// resumes inside the received bytes. Throttled, so that the worker has read every byte the proxy
// sent before the connection fails (Chromium drops received bytes the reader had not taken yet —
// what can cost at most one chunk: resume-cut-random.test.js holds that bound unthrottled).
const CUT_AT = 200_000;
const CUT_RATE = 4 * 1024 * 1024;

scenario('a cut mid-shard resumes from the stored offset and re-fetches at most one chunk', async (env) => {
  const manifest = await env.fixture.manifest('1.0.0');
  const fault = env.proxy.addFault({ path: fullWeightShards(manifest), cutAfter: CUT_AT, bytesPerSecond: CUT_RATE, times: 1 });

  const result = await env.ensure();
  assert.ok(result.ok, `ensureModel failed after one cut: ${JSON.stringify(result.error)}`);
  assert.equal(fault.hits, 1, 'the cut was not applied');

  const requests = shardRequests(env);
  const cutIndex = requests.findIndex((e) => e.cut);
  const cutShard = shardOf(requests[cutIndex]);
  const retries = requests.slice(cutIndex + 1).filter((e) => shardOf(e) === cutShard);
  assert.ok(retries.length >= 1, 'the cut shard was never requested again');
  const resumedAt = rangeStart(retries[0].range);
  assert.ok(
    resumedAt > 0 && resumedAt <= CUT_AT,
    `the retry must resume inside the received bytes (Range ${retries[0].range}), not restart at 0`,
  );
  assert.equal(retries[0].status, 206);

  const refetched = env.proxy.bytesSent('/models/_shards/') - totalBytes(manifest);
  assert.ok(refetched <= CHUNK_SIZE, `re-fetched ${refetched} bytes, more than one chunk (${CHUNK_SIZE})`);

  assertServedExactly(await env.fetchModelFile('weights.bin'), env.fixture.files.get('weights.bin'), 'weights.bin');
  assertNoModelFileFetched(env);
});
