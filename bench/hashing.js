// Item 5: SHA-256 throughput, the service worker's wasm vs WebCrypto, on the same buffers in the
// same page. The wasm side is `sha256Hex`, a bench hook exported from the shipped
// tessera_sw_bg.wasm (same `sha2` crate, same wasm-release profile and wasm-opt pass as the
// code that verifies shards); it includes copying the buffer into wasm memory, as the worker
// must. WebCrypto is `crypto.subtle.digest('SHA-256', buffer)`: one call per whole buffer, it
// cannot hash a stream incrementally.

import { fmtMedian, fmtMs, fmtNum, fmtRatio, fmtSpread, median, MiB, repeat, repsFor, summary } from './lib/stats.js';
import { benchFixture, openContender } from './lib/world.js';

/** @param {import('./run.js').BenchContext} ctx */
export async function run(ctx) {
  const sizes = ctx.smoke ? [MiB, 4 * MiB] : [MiB, 4 * MiB, 64 * MiB];
  // Bytes hashed per measurement for each buffer size (repeated calls on the same buffer).
  const volume = ctx.smoke ? 8 * MiB : ctx.quick ? 64 * MiB : 256 * MiB;
  const { reps, warmup } = repsFor(ctx);
  const fixture = await benchFixture({ name: 'hashing', size: 64 * 1024 });
  const c = await openContender('tessera', fixture).catch(async (err) => {
    await fixture.dispose();
    throw err;
  });
  try {
    const ok = await c.page.evaluate(async () => {
      const m = await import('/tessera_sw.js');
      await m.default({ module_or_path: '/tessera_sw_bg.wasm' });
      if (typeof m.sha256Hex !== 'function') return false;
      window.benchHash = m.sha256Hex;
      return true;
    });
    if (!ok) throw new Error('tessera_sw.js exports no sha256Hex: the web build predates the bench hook (rebuild it)');

    const runs = {};
    for (const size of sizes) {
      const iterations = Math.max(1, Math.round(volume / size));
      runs[size] = { wasm: [], webcrypto: [], iterations };
      await repeat(reps, warmup, async ({ warmUp }) => {
        const r = await c.page.evaluate(
          async ([n, iters]) => {
            const buf = new Uint8Array(n);
            let x = 0x9e3779b9;
            for (let i = 0; i < n; i += 1) {
              x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
              buf[i] = x & 0xff;
            }
            const hex = (ab) => [...new Uint8Array(ab)].map((b) => b.toString(16).padStart(2, '0')).join('');
            let t0 = performance.now();
            let a = '';
            for (let i = 0; i < iters; i += 1) a = window.benchHash(buf);
            const wasmMs = performance.now() - t0;
            t0 = performance.now();
            let d = null;
            for (let i = 0; i < iters; i += 1) d = await crypto.subtle.digest('SHA-256', buf);
            const webMs = performance.now() - t0;
            return { wasmMs, webMs, same: a === hex(d) };
          },
          [size, iterations],
        );
        if (!r.same) throw new Error(`wasm and WebCrypto digests differ for a ${size}-byte buffer`);
        if (!warmUp) {
          runs[size].wasm.push((size * iterations) / 1e6 / (r.wasmMs / 1000));
          runs[size].webcrypto.push((size * iterations) / 1e6 / (r.webMs / 1000));
        }
      });
      ctx.log(`item 5: ${size / MiB} MiB buffers done`);
    }

    const rows = [];
    for (const size of sizes) {
      const { wasm, webcrypto } = runs[size];
      const label = size === 64 * MiB ? 'whole 64 MiB file' : `${size / MiB} MiB chunk`;
      rows.push([label, 'tessera SW wasm (`sha2`)', fmtMedian(wasm), fmtSpread(wasm), fmtRatio(1)]);
      rows.push([label, 'WebCrypto `subtle.digest`', fmtMedian(webcrypto), fmtSpread(webcrypto), fmtRatio(median(webcrypto) / median(wasm))]);
    }
    const big = sizes.at(-1);
    const wasmRate = median(runs[big].wasm);
    const webRate = median(runs[big].webcrypto);
    const per100 = (rate) => (100 / rate) * 1000;
    const faster = webRate > wasmRate;
    const notes = [
      `Hashing 100 MB costs ${fmtMs(per100(wasmRate))} in the SW's wasm and ${fmtMs(per100(webRate))} with WebCrypto ` +
        `(${fmtRatio(webRate / wasmRate)}). The service worker hashes each downloaded shard once, with WebCrypto, over the complete ` +
        'shard (a file is exactly its signed, ordered shards, so it is not hashed whole again); the wasm `sha2` remains where bytes ' +
        'arrive incrementally without a platform hasher (the page runtime without a service worker, the edge).',
    ];
    if (faster) {
      notes.push(
        `WebCrypto is faster here (native code, where the wasm \`sha2\` has no SIMD or SHA instructions): ${fmtMs(per100(wasmRate) - per100(webRate))} ` +
          'saved per 100 MB downloaded, now that the worker uses it (its effect end to end: item 2).',
      );
    } else {
      notes.push('The wasm hasher keeps up with WebCrypto here.');
    }
    return [
      {
        item: 5,
        id: 'hashing',
        title: 'Hashing: sha256 in the SW wasm vs WebCrypto',
        setup:
          `Same pseudo-random buffers in one page; ${fmtNum(volume / MiB, 0)} MiB hashed per measurement (repeated calls); ` +
          `${warmup} warm-up + ${reps} measured rounds; median and min–max MB/s. The wasm figure includes copying the buffer into wasm memory.`,
        columns: ['buffer', 'hasher', 'median MB/s', 'spread', 'vs wasm'],
        rows,
        data: {
          unit: 'MB/s',
          volumeBytes: volume,
          sizes: Object.fromEntries(sizes.map((s) => [s, { iterations: runs[s].iterations, wasm: summary(runs[s].wasm, 'MB/s'), webcrypto: summary(runs[s].webcrypto, 'MB/s') }])),
        },
        notes,
      },
    ];
  } finally {
    await c.close();
    await fixture.dispose();
  }
}
