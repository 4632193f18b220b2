// Service-worker throughput, side by side in one headless Chromium run (not a test: numbers).
//
//   node playwright/bench/sw-throughput.js [--size-mib 64] [--reps 3]
//
// Same browser, same loopback `tessera serve` (no proxy), same bytes:
//   1. plain fetch  — the page fetches every shard of the model through the network path the SW
//                     uses (`/models/_shards/*`, passed through untouched), 4 at a time, no
//                     verification, no storage: the ceiling for a cold download;
//   2. tessera cold — `Tessera.ensureModel` from an empty store: manifest signature + policy,
//                     parallel Range downloads into IndexedDB, sha256 of every shard and of the
//                     whole file;
//   3. tessera warm — the page fetches the model file, answered by the SW from IndexedDB
//                     (streamed), whole file and 1 MiB Range reads.
// Prints a table (median and spread of `--reps` runs, MB/s, ratios) and writes JSON to
// playwright/test-results/bench-sw-throughput.json. Needs what playwright/run.sh needs.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { REPO_ROOT, shardsOf } from '../lib/fixtures.js';
import { Env } from '../lib/scenario.js';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SIZE_MIB = arg('size-mib', 64);
const REPS = arg('reps', 3);
const MB = 1e6;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;

async function main() {
  const env = await Env.open({ fixture: { name: 'bench', weightsSize: SIZE_MIB * 1024 * 1024 }, goto: false });
  if (env.pendingError) throw env.pendingError;
  try {
    // Straight to `tessera serve`: the scenarios' fault-injecting Node proxy would be the bottleneck.
    env.origin = env.server.url;
    await env.load();
    const manifest = await env.fixture.manifest('1.0.0');
    const shards = shardsOf(manifest).map((s) => `/models/_shards/${s.sha256}`);
    const bytes = manifest.files.reduce((n, f) => n + f.size, 0);
    const url = `/models/${env.model}/weights.bin`;
    const runs = { plainFetch: [], tesseraCold: [], tesseraWarm: [], tesseraRange: [] };

    for (let rep = 0; rep < REPS + 1; rep += 1) {
      const warmUp = rep === 0; // the first round warms caches and JIT; not recorded
      const plain = await env.page.evaluate(async (urls) => {
        const t0 = performance.now();
        let next = 0;
        let total = 0;
        const worker = async () => {
          while (next < urls.length) {
            const u = urls[next++];
            const res = await fetch(u, { cache: 'no-store' });
            total += (await res.arrayBuffer()).byteLength;
          }
        };
        await Promise.all([worker(), worker(), worker(), worker()]);
        return { ms: performance.now() - t0, total };
      }, shards);

      await env.page.evaluate((m) => window.harness.remove(m), env.model);
      const cold = await env.page.evaluate(async (m) => {
        const t0 = performance.now();
        const r = await window.harness.ensure(m);
        return { ms: performance.now() - t0, ok: r.ok, error: r.error };
      }, env.model);
      if (!cold.ok) throw new Error(`ensureModel failed: ${JSON.stringify(cold.error)}`);

      const warm = await env.page.evaluate(async (u) => {
        const t0 = performance.now();
        const res = await fetch(u, { cache: 'no-store' });
        const n = (await res.arrayBuffer()).byteLength;
        return { ms: performance.now() - t0, n, sw: res.headers.has('x-tessera-version') };
      }, url);
      if (!warm.sw || warm.n !== manifest.files.find((f) => f.path === 'weights.bin').size) {
        throw new Error(`warm read was not a full answer from the service worker: ${JSON.stringify(warm)}`);
      }

      const range = await env.page.evaluate(async ([u, size]) => {
        const t0 = performance.now();
        let n = 0;
        for (let i = 0; i < 16; i += 1) {
          const start = (i * 3 * 1048576 + 12345) % (size - 1048576);
          const res = await fetch(u, { headers: { Range: `bytes=${start}-${start + 1048575}` }, cache: 'no-store' });
          n += (await res.arrayBuffer()).byteLength;
        }
        return { ms: performance.now() - t0, n };
      }, [url, bytes]);

      if (!warmUp) {
        runs.plainFetch.push(plain.total / MB / (plain.ms / 1000));
        runs.tesseraCold.push(bytes / MB / (cold.ms / 1000));
        runs.tesseraWarm.push(warm.n / MB / (warm.ms / 1000));
        runs.tesseraRange.push(range.n / MB / (range.ms / 1000));
      }
    }

    const rows = Object.entries(runs).map(([name, xs]) => ({ name, medianMBps: median(xs), spread: spread(xs), runs: xs }));
    const ceiling = rows.find((r) => r.name === 'plainFetch').medianMBps;
    const result = {
      command: `node playwright/bench/sw-throughput.js --size-mib ${SIZE_MIB} --reps ${REPS}`,
      date: new Date().toISOString(),
      modelBytes: bytes,
      shards: shards.length,
      chromium: (await env.browser.cdp.send('Browser.getVersion')).product,
      rows: rows.map((r) => ({ ...r, ratioToPlainFetch: r.medianMBps / ceiling })),
    };
    console.log(`model: ${(bytes / MB).toFixed(1)} MB in ${shards.length} shards, ${REPS} runs after 1 warm-up`);
    console.log('| measure | median MB/s | spread | ratio to plain fetch |');
    console.log('| --- | ---: | --- | ---: |');
    for (const r of result.rows) {
      console.log(`| ${r.name} | ${r.medianMBps.toFixed(0)} | ${r.spread} | ${r.ratioToPlainFetch.toFixed(2)} |`);
    }
    const out = path.join(REPO_ROOT, 'playwright', 'test-results');
    await mkdir(out, { recursive: true });
    await writeFile(path.join(out, 'bench-sw-throughput.json'), JSON.stringify(result, null, 2));
  } finally {
    await env.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
