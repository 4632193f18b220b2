// A model file past 4 GiB (4.5 GiB + 12 345 bytes, sparse: zeros with pseudo-random markers at
// 2^31, 2^32, two shard boundaries past 2^32 and the end) packed by `tessera pack`, downloaded by
// the drop-in service worker with a connection cut mid-shard, and read back with Range requests
// past 2^31 and 2^32: every answer is 206 with the exact bytes, Content-Range with the full size
// and Content-Length; HEAD states the full size. The all-zero shard is stored and fetched once;
// the service worker's and the page's memory stay under a few shards while reading past 2^32.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

import { sha256Hex, tesseraBin, uniqueShardBytes } from '../lib/fixtures.js';
import { expectedBytes, LARGE_SHARD_SIZE, LARGE_SIZE, markers, TWO_31, TWO_32, writeSparseModel } from '../lib/large.js';
import { assertNoModelFileFetched, CHUNK_SIZE, scenario, shardOf, shardRequests } from '../lib/scenario.js';

const run = promisify(execFile);
const FILE = 'weights.data';
/** "A few shards": the most memory the worker or the page may hold above its idle level. */
const MEMORY_BOUND = 4 * LARGE_SHARD_SIZE;

scenario('a 4.5 GiB model downloads with a cut and serves exact Range reads past 2^31 and 2^32', async (env) => {
  const regions = markers();
  const source = path.join(env.fixture.dir, 'large.data');
  await writeSparseModel(source, regions);
  const config = path.join(env.fixture.dir, 'config.json');
  await writeFile(config, '{"hidden":4096}\n');
  const packStarted = Date.now();
  await run(tesseraBin(), [
    '--quiet', 'pack',
    '--key', path.join(env.fixture.keys.trusted, 'tessera.key'),
    '--name', env.model, '--version', '1.0.0',
    '--shard-size', String(LARGE_SHARD_SIZE),
    '--entry', FILE,
    '--out', env.fixture.artifacts,
    `${FILE}=${source}`, `config.json=${config}`,
  ], { timeout: 240_000 });
  env.browser.note('harness', `packed ${LARGE_SIZE} bytes in ${Date.now() - packStarted} ms`);
  const manifest = await env.fixture.manifest('1.0.0');
  const file = manifest.files.find((f) => f.path === FILE);
  assert.equal(file.size, LARGE_SIZE);
  assert.equal(file.shards.length, Math.ceil(LARGE_SIZE / LARGE_SHARD_SIZE));

  // The all-zero shard is the file's first; cut the connection inside a marker shard past 2^32.
  const zero = file.shards[0].sha256;
  const cutShard = file.shards[TWO_32 / LARGE_SHARD_SIZE + 3].sha256;
  assert.notEqual(cutShard, zero);
  const fault = env.proxy.addFault({
    path: (e) => e.path.startsWith('/models/_shards/') && shardOf(e) === cutShard,
    cutAfter: 200_000,
    bytesPerSecond: 4 * 1024 * 1024,
    times: 1,
  });

  const result = await env.ensure(env.model, { timeoutMs: 120_000 });
  assert.ok(result.ok, `ensureModel failed: ${JSON.stringify(result.error)}`);
  assert.equal(fault.hits, 1, 'the cut was not applied');

  // Content addressing: only the unique shards cross the network, the zero shard exactly once.
  const requests = shardRequests(env);
  const zeroBytes = requests.filter((e) => shardOf(e) === zero).reduce((a, e) => a + (e.bytes ?? 0), 0);
  assert.equal(zeroBytes, LARGE_SHARD_SIZE, 'the all-zero shard must be fetched exactly once');
  const unique = uniqueShardBytes(manifest);
  const fetched = env.proxy.bytesSent('/models/_shards/');
  assert.ok(unique < 20 * LARGE_SHARD_SIZE, `${unique} unique bytes: the zeros were not shared`);
  assert.ok(fetched <= unique + CHUNK_SIZE, `fetched ${fetched} bytes for ${unique} unique (a cut costs at most one chunk)`);

  const idleSw = await env.browser.serviceWorkerHeap({ collect: true });
  const idlePage = await env.browser.cdp.send('Runtime.getHeapUsage');
  const spanTwoPast32 = TWO_32 + 3 * LARGE_SHARD_SIZE;
  const cases = [
    [TWO_31 - 10, TWO_31 + 10],
    [TWO_32 - 10, TWO_32 + 10],
    [spanTwoPast32 - 1000, spanTwoPast32 + 999],
    [TWO_32 + 100 * LARGE_SHARD_SIZE + 5, TWO_32 + 100 * LARGE_SHARD_SIZE + 2 * LARGE_SHARD_SIZE + 4],
    [LARGE_SIZE - 20, LARGE_SIZE - 1],
  ];
  let peakSw = 0;
  for (const [start, end] of cases) {
    const range = `bytes=${start}-${end}`;
    const info = await env.fetchModelFile(FILE, { range });
    assert.equal(info.status, 206, `${range}: status ${info.status} ${JSON.stringify(info.json)}`);
    assert.equal(info.fromServiceWorker, true, `${range}: not from the service worker`);
    assert.equal(info.headers['content-range'], `bytes ${start}-${end}/${LARGE_SIZE}`, range);
    assert.equal(info.headers['content-length'], String(end - start + 1), range);
    assert.equal(info.length, end - start + 1, range);
    assert.equal(info.sha256, sha256Hex(expectedBytes(regions, start, end)), `${range}: wrong bytes`);
    const sw = await env.browser.serviceWorkerHeap();
    peakSw = Math.max(peakSw, sw.usedSize + sw.backingStorageSize);
  }
  // Suffix and open-ended forms resolve against the full 64-bit size.
  for (const [range, start] of [['bytes=-4096', LARGE_SIZE - 4096], [`bytes=${LARGE_SIZE - 100}-`, LARGE_SIZE - 100]]) {
    const info = await env.fetchModelFile(FILE, { range });
    assert.equal(info.status, 206, range);
    assert.equal(info.headers['content-range'], `bytes ${start}-${LARGE_SIZE - 1}/${LARGE_SIZE}`, range);
    assert.equal(info.sha256, sha256Hex(expectedBytes(regions, start, LARGE_SIZE - 1)), `${range}: wrong bytes`);
  }
  const past = await env.fetchModelFile(FILE, { range: `bytes=${LARGE_SIZE}-` });
  assert.equal(past.status, 416);
  assert.equal(past.headers['content-range'], `bytes */${LARGE_SIZE}`);
  const head = await env.fetchModelFile(FILE, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String(LARGE_SIZE));
  assert.equal(head.length, 0);

  const page = await env.browser.cdp.send('Runtime.getHeapUsage');
  const idle = idleSw.usedSize + idleSw.backingStorageSize;
  env.browser.note('harness', `memory: sw idle ${idle}, sw peak ${peakSw}, page idle ${idlePage.usedSize + idlePage.backingStorageSize}, page after ${page.usedSize + page.backingStorageSize}`);
  assert.ok(peakSw - idle < MEMORY_BOUND, `the worker grew by ${peakSw - idle} bytes reading past 2^32 (bound ${MEMORY_BOUND})`);
  const pageGrowth = page.usedSize + page.backingStorageSize - (idlePage.usedSize + idlePage.backingStorageSize);
  assert.ok(pageGrowth < MEMORY_BOUND, `the page grew by ${pageGrowth} bytes (bound ${MEMORY_BOUND})`);

  // Offline, a read past 2^32 still comes from verified storage.
  await env.browser.setOffline(true);
  const offline = await env.fetchModelFile(FILE, { range: `bytes=${TWO_32 - 10}-${TWO_32 + 10}` });
  assert.equal(offline.status, 206);
  assert.equal(offline.sha256, sha256Hex(expectedBytes(regions, TWO_32 - 10, TWO_32 + 10)));
  assertNoModelFileFetched(env);
  console.log(env.browser.logs.filter((l) => l.includes('harness:')).join('\n'));
}, { timeout: 300_000, fixture: { name: 'large', pack: false } });
