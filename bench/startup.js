// Item 7: start-up. (a) Service worker cold start to the first cached response: the browser's
// workers are stopped (CDP `ServiceWorker.stopAllWorkers`), then the page fetches a small cached
// model file; the time until its body is read includes starting the worker (for tessera:
// instantiating its wasm from Cache Storage, reading the config, opening IndexedDB). tessera vs
// Workbox 7, each in its own origin and Chromium profile; the same fetch with the worker already
// running is the reference. (b) What a page downloads to start: the wasm (raw, gzip -9,
// brotli -q 11 via node:zlib) and the worker scripts, tessera vs Workbox, and the inference
// runtime's two wasm modules (wonnx + wgpu; tract + SIMD, the CPU engine's, fetched only when
// the runtime picks that engine).

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';

import { sleep } from '../playwright/lib/server.js';
import { readAll } from './lib/page.js';
import { fmtBytes, fmtMedian, fmtMs, fmtRatio, fmtSpread, median, repeat, repsFor, summary } from './lib/stats.js';
import { benchFixture, LABELS, openContenders, WORKBOX_MODULES } from './lib/world.js';

const KINDS = ['tessera', 'workbox'];

/** @param {import('./run.js').BenchContext} ctx */
export async function run(ctx) {
  const cold = await coldStart(ctx);
  const size = await downloadSizes(ctx);
  return [
    {
      item: 7,
      id: 'startup',
      title: 'Start-up: SW cold start and download size',
      setup: `${cold.setup} ${size.setup}`,
      columns: ['measure', 'tessera', 'Workbox 7', 'tessera / Workbox', 'spread (tessera; Workbox)'],
      rows: [...cold.rows, ...size.rows],
      data: { coldStart: cold.data, sizes: size.data },
      notes: [...cold.notes, ...size.notes],
    },
  ];
}

async function coldStart(ctx) {
  const { reps: baseReps, warmup } = repsFor(ctx);
  const reps = ctx.smoke ? 1 : baseReps * 2; // start-up times are short and noisy: twice the rounds
  const fixture = await benchFixture({ name: 'startup', size: 1024 * 1024 });
  let contenders = [];
  try {
    contenders = await openContenders(KINDS, fixture);
    const by = Object.fromEntries(contenders.map((c) => [c.kind, c]));
    await by.tessera.ensure(fixture.name);
    const url = `/models/${fixture.name}/config.json`;
    const want = fixture.files.get('config.json').length;
    await by.workbox.page.evaluate(readAll, [{ url }]); // Workbox caches on first use
    const runs = Object.fromEntries(KINDS.map((k) => [k, { cold: [], warm: [] }]));
    await repeat(reps, warmup, async ({ warmUp }) => {
      for (const kind of KINDS) {
        const c = by[kind];
        await c.browser.stopAllWorkers();
        await sleep(200);
        const cold = await c.page.evaluate(readAll, [{ url }]);
        const warm = await c.page.evaluate(readAll, [{ url }]);
        for (const r of [cold, warm]) {
          const ok = r.bytes === want && r.reads[0].status === 200 && (kind !== 'tessera' || r.reads[0].sw);
          if (!ok) throw new Error(`${kind}: cached config.json answered wrongly: ${JSON.stringify(r.reads)}`);
        }
        if (!warmUp) {
          runs[kind].cold.push(cold.ms);
          runs[kind].warm.push(warm.ms);
        }
      }
    });
    const row = (label, key) => [
      label,
      fmtMedian(runs.tessera[key], 'ms'),
      fmtMedian(runs.workbox[key], 'ms'),
      fmtRatio(median(runs.tessera[key]) / median(runs.workbox[key])),
      `${fmtSpread(runs.tessera[key])}; ${fmtSpread(runs.workbox[key])} ms`,
    ];
    const extra = median(runs.tessera.cold) - median(runs.workbox.cold);
    return {
      setup:
        `Cold start: a ${want}-byte cached model file fetched by the page right after \`ServiceWorker.stopAllWorkers\`, ` +
        `then again with the worker running; ${warmup} warm-up + ${reps} rounds; median ms (page performance.now()).`,
      rows: [row('SW cold start → first cached response', 'cold'), row('same fetch, worker running', 'warm')],
      data: Object.fromEntries(KINDS.map((k) => [k, { cold: summary(runs[k].cold, 'ms'), warm: summary(runs[k].warm, 'ms') }])),
      notes: [
        extra > 0
          ? `tessera's cold start costs ${fmtMs(extra)} more than Workbox's: it instantiates its wasm (from the copy in Cache Storage, ` +
            'fetched from Cache Storage together with the config) while IndexedDB and the OPFS root open, reads the model\'s accepted ' +
            "manifest and re-checks its signature, and lists the shard's files before it can answer, where Workbox only evaluates " +
            '~20 kB of JS and asks Cache Storage. Most of the engine\'s share is V8 compiling each wasm function on its first call ' +
            '(lazy compilation): reopening the manifest takes ~5.5 ms the first time in a worker and ~0.7 ms the second, of which the ' +
            'Ed25519 check is ~1 ms (bench/sw-timings.js). It is paid once per worker start (the browser stops idle workers after ' +
            '~30 s), not per request.'
          : `tessera's cold start is within ${fmtMs(-extra)} of Workbox's or faster.`,
      ],
    };
  } finally {
    await Promise.all(contenders.map((c) => c.close()));
    await fixture.dispose();
  }
}

/** What a browser downloads to start tessera's drop-in service worker, besides its wasm. */
export const SW_SCRIPTS = ['sw.js', 'tessera-sw-lib.js', 'tessera_sw.js'];

/** The service worker's download budget (issue #10): wasm + `SW_SCRIPTS`, brotli -q 11. */
export const SW_BROTLI_BUDGET = 250_000;

/**
 * raw / gzip -9 / brotli sizes of a list of files; brotli at `quality` (11 but in smoke mode:
 * -q 11 takes ~40 s on the CPU engine's 15 MB wasm).
 */
export async function compressed(files, quality = 11) {
  let raw = 0;
  let gz = 0;
  let br = 0;
  for (const f of files) {
    const b = await readFile(f);
    raw += b.length;
    gz += zlib.gzipSync(b, { level: 9 }).length;
    br += zlib.brotliCompressSync(b, {
      params: { [zlib.constants.BROTLI_PARAM_QUALITY]: quality, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length },
    }).length;
  }
  return { raw, gzip: gz, brotli: br };
}

async function downloadSizes(ctx) {
  const web = (f) => path.join(ctx.webDir, f);
  const swWasm = await compressed([web('tessera_sw_bg.wasm')]);
  const runtimeWasm = await compressed([web('tessera_runtime_bg.wasm')]);
  const runtimeWebgpuWasm = await compressed([web('tessera_runtime_webgpu_bg.wasm')]);
  // Smoke mode only proves the item runs: a fast brotli level for the 15 MB CPU engine.
  const runtimeCpuWasm = await compressed([web('tessera_runtime_cpu_bg.wasm')], ctx.smoke ? 5 : 11);
  const swJs = await compressed(SW_SCRIPTS.map(web));
  const workboxJs = await compressed([
    ...WORKBOX_MODULES.map((m) => path.join(ctx.repoRoot, 'node_modules', `workbox-${m}`, 'build', `workbox-${m}.prod.js`)),
    path.join(ctx.repoRoot, 'bench', 'app', 'workbox', 'sw.js'),
  ]);
  const sz = (s) => `${fmtBytes(s.raw, { exact: true })} / ${fmtBytes(s.gzip, { exact: true })} / ${fmtBytes(s.brotli, { exact: true })}`;
  const swTotal = { raw: swWasm.raw + swJs.raw, gzip: swWasm.gzip + swJs.gzip, brotli: swWasm.brotli + swJs.brotli };
  return {
    setup: 'Sizes: files of the release web build (`wasm-opt -Oz`; the CPU engine\'s wasm without wasm-opt, name section removed), raw / gzip -9 / brotli -q 11 (node:zlib)' +
      `${ctx.smoke ? '; smoke mode: the CPU engine\'s wasm at brotli -q 5' : ''}.`,
    rows: [
      ['service worker, brotli (wasm + JS vs Workbox JS)', fmtBytes(swTotal.brotli, { exact: true }), fmtBytes(workboxJs.brotli, { exact: true }), fmtRatio(swTotal.brotli / workboxJs.brotli), '—'],
      ['`tessera_sw_bg.wasm` raw / gzip / brotli', sz(swWasm), '—', '—', '—'],
      ['SW JS (`sw.js`, `tessera-sw-lib.js`, glue) vs Workbox (5 prod modules + `sw.js`) raw / gzip / brotli', sz(swJs), sz(workboxJs), fmtRatio(swJs.brotli / workboxJs.brotli), '—'],
      ['`tessera_runtime_bg.wasm` (base runtime: verification, router, engine choice; every page) raw / gzip / brotli', sz(runtimeWasm), '—', '—', '—'],
      ['`tessera_runtime_webgpu_bg.wasm` (wonnx + wgpu; loaded only when a model is built on WebGPU) raw / gzip / brotli', sz(runtimeWebgpuWasm), '—', '—', '—'],
      ['`tessera_runtime_cpu_bg.wasm` (tract + SIMD; loaded only when the CPU engine is picked) raw / gzip / brotli', sz(runtimeCpuWasm), '—', '—', '—'],
    ],
    data: { unit: 'bytes', swWasm, swJs, runtimeWasm, runtimeWebgpuWasm, runtimeCpuWasm, workboxJs },
    notes: [
      `The service worker ships ${fmtBytes(swWasm.brotli)} of brotli'd wasm (target ≤ ${fmtBytes(SW_BROTLI_BUDGET)}): OPFS and IndexedDB, fetch, WebCrypto, Ed25519, policy, download plan and Range. ` +
        'Workbox is smaller because it verifies nothing and stores whole responses; it is fetched once and then comes from the HTTP cache / SW script cache.',
      `The inference runtime's page downloads \`tessera_runtime_bg.wasm\` (${fmtBytes(runtimeWasm.brotli)} brotli'd, no engine) to start; its worker fetches one engine, the one a model is built on: ` +
        `the WebGPU engine's \`tessera_runtime_webgpu_bg.wasm\` (${fmtBytes(runtimeWebgpuWasm.brotli)} brotli'd, wonnx + wgpu) only when a model loads on WebGPU, and the CPU engine's \`tessera_runtime_cpu_bg.wasm\` ` +
        `(${fmtBytes(runtimeCpuWasm.brotli)} brotli'd, ${fmtBytes(runtimeCpuWasm.raw)} raw) only when a model loads on the CPU engine (\`engine: 'cpu'\`, or \`'auto'\` where WebGPU cannot run the model, the adapter is a software one or calibration finds tract faster); ` +
        'it is built without wasm-opt (its tract kernels are compiled at -O3 and binaryen takes minutes on it).',
    ],
  };
}
