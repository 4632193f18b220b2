// The Wayfarer demo's first download is cut in the middle of a recommender shard: the download
// card shows the progress so far (bytes, and shards verified and in flight), then the download
// resumes by itself (no reload, no click) from what was stored, and reaches Ready; destinations
// are ranked on this device. The server's own request log proves that at most one chunk (the
// demo's 1 MiB chunkSize) was sent twice.

import assert from 'node:assert/strict';

import { demoScenario, ON_DEVICE } from '../lib/demo.js';
import { shardsOf, uniqueShardBytes } from '../lib/fixtures.js';
import { rangeStart, shardOf, until } from '../lib/scenario.js';

/** `chunkSize` of the demo's tessera.config.json (playwright/lib/demo.js, xtask/src/demo.rs). */
const DEMO_CHUNK_SIZE = 1024 * 1024;
/** The demo's shard size (`tessera pack`'s default). */
const SHARD_SIZE = 4 * 1024 * 1024;
// Where the connection is cut: in the last chunk of a 4 MiB shard, off any chunk boundary. The
// server hands a whole shard to the loopback connection long before the browser has read it
// (socket buffers), so its log counts a cut response as the full shard whatever the browser got,
// and what it sends twice is `shard size − resume offset`: at most one chunk only if the download
// resumes past the last chunk boundary before the cut, i.e. from the bytes it had received —
// restarting the shard, or resuming from a chunk boundary, sends more than a chunk again.
const CUT_AT = SHARD_SIZE - 700_000;
// The cut response is throttled (see resume-after-cut.test.js): Chromium drops body bytes the
// worker had not read yet when a connection fails, and on an unthrottled loopback that can be
// most of what arrived. Throttled, the worker has read (and stores) nearly everything it got.
const CUT_RATE = 4 * 1024 * 1024;

demoScenario('demo interrupted download: the card shows progress, resumes by itself and gets ready', async (env) => {
  const manifest = await env.manifest('recommender');
  const full = new Set(shardsOf(manifest).filter((s) => s.size === SHARD_SIZE).map((s) => s.sha256));
  // Each Range request asks for one chunk: the cut falls in the request of the shard's last chunk.
  const lastChunk = SHARD_SIZE - DEMO_CHUNK_SIZE;
  const fault = env.proxy.addFault({
    path: (e) => e.path.startsWith('/models/_shards/') && full.has(shardOf(e)) && Boolean(e.range) && rangeStart(e.range) === lastChunk,
    stallAfter: CUT_AT - lastChunk,
    bytesPerSecond: CUT_RATE,
    times: 1,
  });

  await env.load();
  await env.proxy.waitFor((p) => p.log.some((e) => e.stalled), { what: 'the download to reach the cut' });
  await env.page.waitForFunction(
    () => document.getElementById('dl-state').classList.contains('state-downloading') &&
      document.getElementById('dl-bar').value > 0,
    null,
    { timeout: 10_000 },
  );
  const pct = Number((await env.text('dl-pct')).replace(/\s*%$/, ''));
  await env.showModelDetails();
  assert.ok(pct > 0 && pct < 100, `the card shows partial progress mid-download: ${await env.text('dl-pct')}`);
  assert.match(await env.text('dl-bytes'), /^[\d.]+ MB of [\d.]+ MB$/, 'the card shows the bytes so far');
  // Shards download in parallel and count as verified only once whole: the card also says how
  // many are in flight, so it never reads "0 of 7" alone while bytes arrive (the cut one is).
  const shards = await env.text('dl-shards');
  const counted = /^(\d+) of (\d+) shards verified \u00b7 (\d+) downloading$/.exec(shards);
  assert.ok(counted, `mid-download the card counts shards verified and in flight: ${shards}`);
  assert.ok(Number(counted[3]) >= 1 && Number(counted[1]) < Number(counted[2]), `shards in flight mid-download: ${shards}`);
  await env.screenshot('demo-download-progress-desktop', 1280);
  await env.screenshot('demo-download-progress-phone', 390);

  env.proxy.releaseStalls('cut');
  await env.waitReady();
  assert.equal(fault.hits, 1, 'the cut was not applied');
  assert.match(await env.text('dl-state'), /^Ready\b/, 'download card state after the cut');
  assert.equal(await env.text('dl-pct'), '100 %', 'download card percentage after the cut');
  assert.equal(await env.text('dl-retry'), '', 'the user was never asked to retry');

  const requests = env.proxy.requests('/models/_shards/');
  const cut = requests.find((e) => e.stalled);
  const retry = requests.find((e) => e.id > cut.id && shardOf(e) === shardOf(cut));
  assert.ok(retry, 'the cut shard was never requested again');
  assert.ok(rangeStart(retry.range) > 0, `the retry resumed (Range ${retry.range}) instead of starting over`);

  // The server's own count of body bytes it sent (a cut response counts what it handed to the
  // connection before the cut, which may be more than the browser received).
  const total = uniqueShardBytes(manifest);
  const model = new Set(shardsOf(manifest).map((s) => s.sha256));
  const proxied = requests.filter((e) => model.has(shardOf(e))).length;
  const records = await until(async () => {
    const logged = await env.shardRecords(manifest);
    return logged.length >= proxied && logged;
  }, { what: 'the server to log every shard request', timeoutMs: 10_000 });
  const sent = records.reduce((sum, r) => sum + r.bytes, 0);
  assert.ok(sent >= total, `the server sent ${sent} bytes for a ${total}-byte model`);
  assert.ok(
    sent - total <= DEMO_CHUNK_SIZE,
    `the server sent ${sent - total} bytes twice, more than one chunk (${DEMO_CHUNK_SIZE}):\n` +
      records.map((r) => `${r.path.slice(-12)} ${r.range ?? '-'} ${r.status} ${r.bytes}`).join('\n'),
  );

  await env.recommend();
  assert.equal(await env.text('rec-error'), '', 'recommender shows no error');
  assert.ok((await env.page.locator('#rec-list li.dest').count()) >= 3, 'ranked destinations shown');
  assert.match(await env.text('rec-meta .source'), ON_DEVICE, 'recommendations ran on this device');
});
