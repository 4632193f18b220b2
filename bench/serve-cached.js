// Item 1: serving a cached model to the page. The same file bytes, cached three ways, each in its
// own origin (own `tessera serve` port) and own Chromium profile, all in one run: tessera's SW
// answering with a Blob over its OPFS shard files, Workbox 7 (CacheFirst + workbox-range-requests, cacheable statuses
// [0, 200]) from Cache Storage, and no service worker at all — the file as immutable 64 MiB
// shards (`max-age=31536000, immutable`) read a second time from Chromium's HTTP cache.
// Reads: the whole file, and 16 Range reads of 1 MiB at spread offsets. Numbers are MB/s
// (10^6 B/s) from performance.now() in the page.

import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';

import { heapBytes } from './lib/memory.js';
import { readAll } from './lib/page.js';
import { fmtBytes, fmtMedian, fmtRatio, fmtSpread, mbps, median, MiB, repeat, repsFor, summary } from './lib/stats.js';
import { benchFixture, HTTP_SHARD_SIZE, LABELS, openContenders, packForHttpCache } from './lib/world.js';

const KINDS = ['tessera', 'workbox', 'plain'];
const RANGE_READS = 16;
const RANGE_LEN = MiB;

/** @param {import('./run.js').BenchContext} ctx */
export async function run(ctx) {
  let sizes = ctx.smoke ? [4e6] : ctx.quick ? [16e6, 64e6] : [50e6, 500e6];
  const { reps, warmup } = repsFor(ctx);
  const notes = [];
  // Disk: the fixture keeps the input file, two packs and three browser stores of it (~6×).
  const fs = await statfs(tmpdir());
  const free = fs.bavail * fs.bsize;
  const fitting = sizes.filter((s) => s * 8 < free);
  if (fitting.length < sizes.length) {
    notes.push(`Only ${fmtBytes(free)} free in ${tmpdir()}: skipped ${sizes.filter((s) => !fitting.includes(s)).map((s) => fmtBytes(s)).join(', ')} (needs ~8× the file size).`);
    sizes = fitting.length ? fitting : [Math.floor(free / 8 / MiB) * MiB];
  }

  const rows = [];
  const data = { unit: 'MB/s', reps, warmup, rangeReads: RANGE_READS, rangeBytes: RANGE_LEN, sizes: {} };
  for (const [i, size] of sizes.entries()) {
    ctx.log(`item 1: ${fmtBytes(size)} file`);
    const result = await measureSize(ctx, `serve${i}`, size, { reps, warmup }, notes);
    data.sizes[size] = result.data;
    rows.push(...result.rows);
  }
  const ratios = Object.values(data.sizes).map((d) => d.tessera.whole.median / d.workbox.whole.median);
  if (ratios.some((r) => r < 0.9)) {
    notes.push(
      `tessera serves whole files at ${ratios.map((r) => fmtRatio(r)).join(' / ')} Workbox's MB/s, under the 0.9× target: its answer ` +
        'is a Blob composed of the OPFS files of the shards the request touches (sliced for Range); the worker builds it from ' +
        'file handles (listing each shard directory once per worker start), the browser streams it.',
    );
  }
  notes.push(
    'tessera answers with `new Response(blob)`, the Blob composed of the OPFS files of exactly the shards a request touches ' +
      '(sliced at its edges), so the browser streams it without a byte passing through JS or wasm; Workbox answers with the ' +
      'Response Cache Storage gives back (one stored body, the browser streams it natively), and for Range reads ' +
      "workbox-range-requests loads that body as a Blob and slices it; the HTTP cache answers inside the network stack without any " +
      'worker. A tessera shard is verified once on download, so its reads do not re-hash.',
  );
  return [
    {
      item: 1,
      id: 'serve-cached',
      title: 'Serving a cached model to the page',
      setup:
        `${sizes.map((s) => fmtBytes(s)).join(' and ')} file (pseudo-random), cached by each contender in its own origin and Chromium profile; ` +
        `whole-file read and ${RANGE_READS} × 1 MiB Range reads from the page; ${warmup} warm-up + ${reps} measured rounds, contenders alternating; median and min–max MB/s.`,
      columns: ['file · read', 'contender', 'median MB/s', 'spread', 'vs Workbox', 'vs HTTP cache'],
      rows,
      data,
      notes,
    },
  ];
}

/** `before → peak` of a {@link swHeapWhileReading} result, in MB. */
function fmtMemory(m) {
  return `${fmtBytes(m.before)} before, peak ${fmtBytes(m.peak)} (${m.samples} samples)`;
}

/**
 * Reads `reads` in contender `c`'s page while sampling its service worker's memory. Resolves
 * `{ before, peak, samples }` (bytes; see {@link heapBytes}).
 */
async function swHeapWhileReading(c, reads) {
  // What the worker holds alive before the read (garbage of the download collected first).
  const before = heapBytes(await c.browser.serviceWorkerHeap({ collect: true }));
  let peak = before;
  let samples = 0;
  let done = false;
  const reading = c.page.evaluate(readAll, reads).finally(() => {
    done = true;
  });
  while (!done) {
    const now = heapBytes(await c.browser.serviceWorkerHeap());
    if (Number.isFinite(now)) {
      peak = Math.max(peak, now);
      samples += 1;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  await reading;
  return { before, peak, samples };
}

async function measureSize(ctx, name, size, { reps, warmup }, notes) {
  const fixture = await benchFixture({ name, size });
  let contenders = [];
  try {
    const httpShards = await packForHttpCache(fixture);
    // Same concurrency and chunk size as the demo app's config.
    contenders = await openContenders(KINDS, fixture, { config: { chunkSize: MiB } });
    const by = Object.fromEntries(contenders.map((c) => [c.kind, c]));
    const fileUrl = `/models/${fixture.name}/weights.bin`;

    const quota = await by.tessera.page.evaluate(() => navigator.storage.estimate());
    if (quota.quota < size * 2) {
      throw new Error(`origin quota ${fmtBytes(quota.quota)} is too small for a ${fmtBytes(size)} model`);
    }

    // Prime every cache: tessera downloads and verifies; Workbox and the HTTP cache keep what a
    // first read fetched.
    await by.tessera.ensure(fixture.name);
    const plans = {
      tessera: { whole: [{ url: fileUrl }], range: rangeReads(size).map(([s, e]) => ({ url: fileUrl, range: `bytes=${s}-${e}` })) },
      workbox: { whole: [{ url: fileUrl }], range: rangeReads(size).map(([s, e]) => ({ url: fileUrl, range: `bytes=${s}-${e}` })) },
      plain: {
        whole: httpShards.map((s) => ({ url: `/models/_shards/${s.sha256}` })),
        range: rangeReads(size).map(([s, e]) => {
          const shard = httpShards.find((h) => s >= h.offset && s < h.offset + h.size);
          return { url: `/models/_shards/${shard.sha256}`, range: `bytes=${s - shard.offset}-${e - shard.offset}` };
        }),
      },
    };
    await by.workbox.page.evaluate(readAll, plans.workbox.whole);
    await by.plain.page.evaluate(readAll, plans.plain.whole);

    const runs = Object.fromEntries(KINDS.map((k) => [k, { whole: [], range: [] }]));
    const cacheMisses = { plain: 0 };
    await repeat(reps, warmup, async ({ rep, warmUp }) => {
      // Rotate who goes first, so no contender always reads right after another's burst.
      const order = KINDS.map((_, j) => KINDS[(j + rep) % KINDS.length]);
      for (const kind of order) {
        const c = by[kind];
        for (const read of ['whole', 'range']) {
          const r = await c.page.evaluate(readAll, plans[kind][read]);
          check(kind, read, r, size);
          if (kind === 'plain' && r.reads.some((x) => x.transferSize !== 0)) cacheMisses.plain += 1;
          if (!warmUp) runs[kind][read].push(mbps(r.bytes, r.ms));
        }
      }
      ctx.log(`item 1: ${fmtBytes(size)} round ${rep + 1}/${reps + warmup}${warmUp ? ' (warm-up)' : ''}`);
    });
    // The service worker's memory while it answers a whole-file read (sampled every ~20 ms).
    const memory = {};
    for (const kind of ['tessera', 'workbox']) memory[kind] = await swHeapWhileReading(by[kind], plans[kind].whole);
    notes.push(
      `${fmtBytes(size)}: service worker memory while answering one whole-file read (CDP \`Runtime.getHeapUsage\` in the worker, ` +
        'JS heap used + ArrayBuffer backing stores, the wasm memory among them; live memory after a forced GC before the read, ' +
        'then the peak over samples every ~20 ms during it): ' +
        ['tessera', 'workbox'].map((k) => `${LABELS[k]} ${fmtMemory(memory[k])}`).join('; ') + '.',
    );
    if (cacheMisses.plain) {
      notes.push(`${fmtBytes(size)}: ${cacheMisses.plain} HTTP-cache reads went (partly) to the network (Resource Timing transferSize ≠ 0).`);
    }

    const rows = [];
    for (const read of ['whole', 'range']) {
      const wb = median(runs.workbox[read]);
      const http = median(runs.plain[read]);
      for (const kind of KINDS) {
        const xs = runs[kind][read];
        rows.push([
          `${fmtBytes(size)} · ${read === 'whole' ? 'whole file' : `${RANGE_READS} × 1 MiB Range`}`,
          LABELS[kind],
          fmtMedian(xs),
          fmtSpread(xs),
          fmtRatio(median(xs) / wb),
          fmtRatio(median(xs) / http),
        ]);
      }
    }
    const data = Object.fromEntries(
      KINDS.map((k) => [k, { whole: summary(runs[k].whole, 'MB/s'), range: summary(runs[k].range, 'MB/s') }]),
    );
    return { rows, data: { ...data, swMemory: memory } };
  } finally {
    await Promise.all(contenders.map((c) => c.close()));
    await fixture.dispose();
  }
}

/** `[start, end]` (inclusive) of the Range reads: spread over the file, never across a 64 MiB shard. */
function rangeReads(size) {
  const len = Math.min(RANGE_LEN, Math.floor(size / 4));
  return Array.from({ length: RANGE_READS }, (_, i) => {
    let start = (i * 3 * MiB + 12_345) % (size - len);
    const shardEnd = (Math.floor(start / HTTP_SHARD_SIZE) + 1) * HTTP_SHARD_SIZE;
    if (start + len > shardEnd) start = shardEnd - len;
    return [start, start + len - 1];
  });
}

/** Throws unless every read answered the bytes asked for (and tessera's came from tessera). */
function check(kind, read, r, size) {
  const want = read === 'whole' ? size : rangeReads(size).reduce((n, [s, e]) => n + e - s + 1, 0);
  const statusOk = r.reads.every((x) => x.status === (read === 'whole' ? 200 : 206));
  const fromTessera = kind !== 'tessera' || r.reads.every((x) => x.sw);
  if (r.bytes !== want || !statusOk || !fromTessera) {
    throw new Error(`${kind} ${read} read answered wrongly (want ${want} bytes): ${JSON.stringify(r.reads.slice(0, 3))}`);
  }
}
