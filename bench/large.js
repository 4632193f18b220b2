// Item 10: a model of several GB end to end through the drop-in service worker. Three files
// (`weights.data`, 4.5 GiB + 12,345 pseudo-random bytes — smoke: 8 MiB —, `tokenizer.json`,
// `config.json`) are generated, packed by the release `tessera pack` (4 MiB shards), downloaded
// by `ensureModel` behind the counting proxy with every connection cut and the worker stopped
// (CDP) once half the bytes went out, then the same call again resumes; Range reads at 2^31,
// 2^32, across two shards past 2^32 and the end are checked byte for byte against the source
// file, online and offline. Reported: wall times, MB/s, bytes re-fetched, peak service-worker and
// page live JS memory (every 2 s a full GC in the target, then CDP Runtime.getHeapUsage: used heap +
// ArrayBuffer backing stores). Every file (source, artifacts, the browser profile's OPFS) is deleted afterwards.
// One round: the figures come from one run; nothing here asserts a timing.

import { execFile } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

import { tesseraBin } from '../playwright/lib/fixtures.js';
import { TWO_31, TWO_32 } from '../playwright/lib/large.js';
import { Env, settle } from '../playwright/lib/scenario.js';
import { sampleLiveMemory } from './lib/memory.js';
import { fmtBytes, fmtMs, fmtNum, mbps, MiB } from './lib/stats.js';

const SHARD = 4 * MiB;

/** @param {import('./run.js').BenchContext} ctx */
export async function run(ctx) {
  const size = ctx.smoke ? 8 * MiB + 12_345 : 4.5 * 2 ** 30 + 12_345;
  ctx.log(`item 10: ${fmtBytes(size)} model, generate + pack + download with a cut + Range reads`);
  const env = await Env.open({ fixture: { name: 'large', pack: false }, config: { chunkSize: MiB }, goto: false });
  if (env.pendingError) {
    await env.close();
    throw env.pendingError;
  }
  try {
    await env.load();
    const source = path.join(env.fixture.dir, 'weights.data');
    let t0 = Date.now();
    await writePseudoRandom(source, size, 'bench-large');
    const generateMs = Date.now() - t0;
    const tokenizer = path.join(env.fixture.dir, 'tokenizer.json');
    await writeFile(tokenizer, JSON.stringify({ vocab: Object.fromEntries(Array.from({ length: 30_000 }, (_, i) => [`t${i}`, i])) }));
    const config = path.join(env.fixture.dir, 'config.json');
    await writeFile(config, '{"hidden":4096,"layers":32}\n');
    t0 = Date.now();
    await promisify(execFile)(tesseraBin(), [
      '--quiet', 'pack', '--key', path.join(env.fixture.keys.trusted, 'tessera.key'), '--name', env.model, '--version', '1.0.0',
      '--shard-size', String(SHARD), '--entry', 'weights.data', '--out', env.fixture.artifacts,
      `weights.data=${source}`, `tokenizer.json=${tokenizer}`, `config.json=${config}`,
    ], { timeout: 1_800_000 });
    const packMs = Date.now() - t0;
    const manifest = await env.fixture.manifest('1.0.0');
    const total = manifest.files.reduce((a, f) => a + f.size, 0);
    ctx.log(`item 10: generated in ${fmtMs(generateMs)}, packed in ${fmtMs(packMs)}`);

    const memory = await sampleLiveMemory(env.browser, { intervalMs: 2000, page: true });
    // Download: every connection cut and the worker stopped once half the bytes went out.
    t0 = Date.now();
    const first = env.page.evaluate((m) => window.harness.ensure(m), env.model).catch((e) => ({ ok: false, error: String(e) }));
    await env.proxy.waitFor((p) => p.bytesSent('/models/_shards/') >= total / 2, { timeoutMs: 1_800_000, what: 'half the shard bytes' });
    await env.browser.stopAllWorkers();
    for (const s of env.proxy.sockets) s.destroy();
    const cutAt = env.proxy.bytesSent('/models/_shards/');
    await settle(first, 60_000, 'the interrupted ensureModel').catch(() => {});
    const resumed = await env.ensure(env.model, { timeoutMs: 1_800_000 });
    const downloadMs = Date.now() - t0;
    if (!resumed.ok) throw new Error(`ensureModel after the cut failed: ${JSON.stringify(resumed.error)}`);
    const sent = env.proxy.bytesSent('/models/_shards/');

    // Range reads past 2^31 and 2^32 (where the file reaches them), checked against the source.
    const size0 = size;
    const cases = [[TWO_31 - 10, TWO_31 + 10], [TWO_32 - 10, TWO_32 + 10], [TWO_32 + 3 * SHARD - 1000, TWO_32 + 3 * SHARD + 999]]
      .filter(([, end]) => end < size0);
    cases.push([size0 - 20, size0 - 1], [Math.floor(size0 / 2) - SHARD, Math.floor(size0 / 2) + SHARD]);
    t0 = Date.now();
    const reads = await checkRanges(env, source, cases);
    const readMs = Date.now() - t0;
    await env.browser.setOffline(true);
    const offline = await checkRanges(env, source, cases.slice(0, 2));
    const peak = await memory.stop();

    const past32 = cases.filter(([s]) => s >= TWO_32).length;
    return [{
      item: 10,
      id: 'multi-gb',
      title: 'A multi-GB model end to end (pack → download with a cut and a worker restart → Range reads past 4 GiB → offline)',
      setup:
        `${fmtBytes(total)} in 3 files (weights.data ${fmtBytes(size)} pseudo-random, tokenizer.json, config.json), 4 MiB shards, \`tessera pack\` (\`TESSERA_BIN\`); ` +
        'drop-in worker (OPFS store, 4 parallel downloads, 1 MiB chunks) behind the counting proxy; one round.',
      columns: ['measure', 'value'],
      rows: [
        ['generate the source files (node, AES-CTR)', fmtMs(generateMs)],
        ['`tessera pack` (read, sha256 per shard and per file, write shards)', `${fmtMs(packMs)} (${fmtNum(mbps(total, packMs))} MB/s)`],
        ['`ensureModel`, cut + worker stopped at ' + `${fmtNum((cutAt / total) * 100, 0)}%, then resumed`, `${fmtMs(downloadMs)} (${fmtNum(mbps(total, downloadMs))} MB/s)`],
        ['shard bytes sent in total / re-fetched because of the cut', `${fmtBytes(sent)} / ${fmtBytes(Math.max(0, sent - total))}`],
        [`Range reads checked byte for byte (${reads} online, ${past32} past 2^32; ${offline} offline)`, fmtMs(readMs)],
        ['peak live service-worker JS memory (used heap + ArrayBuffers after a full GC)', `${fmtBytes(peak.sw)} (${fmtBytes(peak.swIdle)} before the download)`],
        ['peak live page JS memory (used heap + ArrayBuffers after a full GC)', fmtBytes(peak.page)],
      ],
      data: { bytes: total, size, generateMs, packMs, downloadMs, cutAt, sent, readMs, reads, offline, peakSw: peak.sw, swIdle: peak.swIdle, peakPage: peak.page, samples: peak.samples },
      notes: [
        'The worker never holds the file: downloads write each 1 MiB piece to its own OPFS file and hash each shard with WebCrypto; a Range answer is a Blob over the shard files it touches. ' +
          'Memory is live memory: every 2 s a full garbage collection in the worker and in the page (CDP `HeapProfiler.collectGarbage`), then `Runtime.getHeapUsage` (used heap + ArrayBuffer backing stores, the wasm memory among them); a peak shorter than 2 s can be missed, and the collections slow the download a little.',
      ],
    }];
  } finally {
    await env.close();
  }
}

/** Writes `size` pseudo-random bytes (AES-128-CTR keystream of `seed`) to `file`, 16 MiB at a time. */
async function writePseudoRandom(file, size, seed) {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  const zeros = Buffer.alloc(16 * MiB);
  const handle = await open(file, 'w');
  try {
    for (let at = 0; at < size; at += zeros.length) {
      const n = Math.min(zeros.length, size - at);
      await handle.write(cipher.update(zeros.subarray(0, n)), 0, n, at);
    }
  } finally {
    await handle.close();
  }
}

/** Reads each `[start, end]` through the worker and compares it with the source file; returns the count. */
async function checkRanges(env, source, cases) {
  const handle = await open(source, 'r');
  try {
    for (const [start, end] of cases) {
      const range = `bytes=${start}-${end}`;
      const info = await env.fetchModelFile('weights.data', { range, timeoutMs: 120_000 });
      const want = Buffer.alloc(end - start + 1);
      await handle.read(want, 0, want.length, start);
      const expected = createHash('sha256').update(want).digest('hex');
      if (info.status !== 206 || info.sha256 !== expected || info.headers['content-length'] !== String(want.length)) {
        throw new Error(`${range}: status ${info.status}, ${info.length} bytes, sha256 ${info.sha256 === expected ? 'ok' : 'differs'}`);
      }
    }
    return cases.length;
  } finally {
    await handle.close();
  }
}
