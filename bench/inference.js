// Bench item 6: inference in the browser, side by side in one headless Chromium (WebGPU on,
// SwiftShader) against one release `tessera serve` (no proxy): the tessera runtime (wonnx on
// WebGPU in its worker) vs onnxruntime-web 1.30 (wasm EP and WebGPU EP) on the same demo
// recommender bytes, plus the edge (native wonnx on lavapipe) reached from the page through the
// runtime. For each contender: time to first inference with the model in the HTTP cache (a
// fresh page load: create → load → first run), steady-state latency, and the outputs' distance
// to the known-answer vectors and to each other. Times come from performance.now() in the page.
//
//   node bench/inference.js [--quick|--smoke]     (prints the BenchItem as JSON)

import { launchBrowser } from '../playwright/lib/browser.js';
import { WEBGPU_ARGS } from '../playwright/lib/demo.js';
import { settle, WEB_DIR } from '../playwright/lib/scenario.js';
import { BENCH_BROWSER_ARGS } from './lib/world.js';
import {
  benchApp, expectedScores, inferBody, maxAbsDiff, MODEL, packRecommender, pairedRatio, postInfer, serveRecommender,
} from './lib/recommender-world.js';
import { fmtMs, fmtNum, fmtRatio, fmtSpread, median, percentile, repeat, repsFor, summary } from './lib/stats.js';
import { runAlone } from './lib/standalone.js';

/** The contenders, in table order; the ratio base is `ort-wasm`. */
const CONTENDERS = [
  { kind: 'tessera-local', label: 'tessera runtime: wonnx, WebGPU (SwiftShader), in its worker', mayFail: false },
  { kind: 'ort-wasm', label: 'onnxruntime-web 1.30 wasm EP (1 thread)', mayFail: true },
  { kind: 'ort-webgpu', label: 'onnxruntime-web 1.30 WebGPU EP (SwiftShader)', mayFail: true },
  { kind: 'tessera-edge', label: 'edge via the runtime (`edge-only`): native wonnx on lavapipe, loopback', mayFail: false },
];
const BASE = 'ort-wasm';

/** How long one page-side step may take before the bench gives up. */
const STEP_MS = 180_000;

/**
 * Runs item 6. See the file comment.
 * @param {{quick: boolean, smoke: boolean, tesseraBin?: string, webDir?: string, repoRoot?: string,
 *          log?: (msg: string) => void}} ctx
 * @returns {Promise<object[]>} one BenchItem
 */
export async function run(ctx) {
  const log = ctx.log ?? (() => {});
  const { reps, warmup } = repsFor(ctx);
  const steadyRuns = ctx.smoke ? 3 : ctx.quick ? 20 : 50;
  const steadyWarmup = ctx.smoke ? 1 : 5;
  const world = await packRecommender({ tesseraBin: ctx.tesseraBin });
  let server = null;
  let browser = null;
  try {
    const app = await benchApp(world, ctx.webDir ?? WEB_DIR);
    server = await serveRecommender(world, { app });
    // The edge's first request verifies the model, builds its session and self-tests it.
    const coldStarted = performance.now();
    await postInfer(server.url, inferBody(world.vectors[0]));
    const edgeColdMs = performance.now() - coldStarted;
    log(`inference: edge session ready in ${fmtMs(edgeColdMs)}`);

    browser = await launchBrowser({ args: [...WEBGPU_ARGS, ...BENCH_BROWSER_ARGS] });
    const page = browser.page;
    const url = `${server.url}/bench.html`;
    await page.goto(url, { waitUntil: 'load' });
    const adapter = await inPageAdapter(page);
    const features = world.vectors[0].inputs.features.data;
    const inputs = world.vectors.map((v) => v.inputs.features.data);
    const samples = Object.fromEntries(CONTENDERS.map((c) => [c.kind, {
      rounds: [], phases: [], wall: [], compute: [], answers: null, info: null, error: null,
    }]));
    const inPage = (fn, args, what) =>
      settle(page.evaluate(([f, a]) => import('/inference-page.js').then((m) => m[f](a)), [fn, args]), STEP_MS, what);

    await repeat(reps, warmup, async ({ rep, warmUp }) => {
      // Rotated each round so drift on the shared machine does not favour one contender.
      const order = CONTENDERS.map((_, i) => CONTENDERS[(i + rep) % CONTENDERS.length]);
      for (const c of order) {
        const s = samples[c.kind];
        if (s.error) continue;
        try {
          await page.goto(url, { waitUntil: 'load' });
          const r = await inPage('first', { kind: c.kind, features, trustedKeys: [world.trustedKey] }, `${c.kind} first inference`);
          log(`inference: ${c.kind}${warmUp ? ' (warm-up)' : ''} first inference ${fmtMs(r.phases.total)}`);
          if (warmUp) continue;
          const round = { total: r.phases.total, steady: NaN };
          s.rounds[rep - warmup] = round;
          s.phases.push(r.phases);
          s.info = r.info;
          const st = await inPage('steady', { features, n: steadyRuns, warmup: steadyWarmup }, `${c.kind} steady state`);
          s.wall.push(...st.wall);
          s.compute.push(...st.compute.filter((x) => typeof x === 'number'));
          round.steady = median(st.wall);
          s.answers ??= await inPage('answers', inputs, `${c.kind} known answers`);
        } catch (err) {
          if (!c.mayFail) {
            throw new Error(`${c.kind}: ${err.message}\n${browser.logs.slice(-30).join('\n')}`);
          }
          s.error = firstLine(err.message);
          log(`inference: ${c.kind} failed: ${s.error}`);
        }
      }
    });
    return [item({ ctx, world, samples, edgeColdMs, adapter, reps, warmup, steadyRuns, steadyWarmup })];
  } finally {
    await browser?.close();
    await server?.stop();
    await world.dispose();
  }
}

/** Builds the BenchItem from the samples. */
function item({ ctx, world, samples, edgeColdMs, adapter, reps, warmup, steadyRuns, steadyWarmup }) {
  const expected = world.vectors.map(expectedScores);
  const tolerance = Math.min(...world.vectors.map((v) => v.tolerance ?? 1e-3));
  const base = samples[BASE];
  const totals = (s) => s.rounds.filter(Boolean).map((r) => r.total);
  const ratio = (s, key) => pairedRatio(s.rounds.map((r) => r?.[key]), base.rounds.map((r) => r?.[key]));
  const diffs = {};
  const rows = CONTENDERS.map((c) => {
    const s = samples[c.kind];
    if (!s.rounds.length) return [c.label, 'failed', '—', '—', '—', '—', '—', '—', '—'];
    const vsVectors = diffOf(s.answers, expected);
    const vsBase = c.kind === BASE ? null : diffOf(s.answers, base.answers);
    diffs[c.kind] = { vsKnownAnswers: vsVectors, vsOrtWasm: vsBase };
    return [
      c.label,
      fmtMs(median(totals(s))),
      fmtSpread(totals(s)),
      fmtRatio(ratio(s, 'total')),
      fmtMs(median(s.wall)),
      fmtMs(percentile(s.wall, 90)),
      fmtRatio(ratio(s, 'steady')),
      fmtDiff(vsVectors),
      fmtDiff(vsBase),
    ];
  });

  const notes = [
    'Ratios are time ÷ onnxruntime-web wasm time, taken per round (contenders measured back to back see the same background load) and the median of those reported; below 1.00× is faster. "First inference, cached" is a fresh page load with every file already in Chromium\'s HTTP cache: create (import, wasm compile) + load (model bytes, session) + the first run; the first visit per contender is a warm-up that fills the cache.',
  ];
  const local = samples['tessera-local'];
  if (local.phases.length) {
    const p = (k) => fmtMs(median(local.phases.map((x) => x[k] ?? NaN)));
    notes.push(
      `tessera runtime first inference = create ${p('create')} (runtime wasm compile + router) + load ${p('load')} ` +
        `(signed manifest ${p('manifestMs')}, ${fmtNum((local.info?.fileBytes ?? NaN) / 1e6, 1)} MB of shards from the HTTP cache, each shard and the whole file hashed as they arrive, ${p('fetchMs')}; ` +
        `wonnx session ${p('sessionMs')}; self-test of ${local.info?.vectorsPassed ?? '?'} known-answer vectors ${p('selfTestMs')}) ` +
        `+ first run ${p('firstRun')}. onnxruntime-web verifies nothing and runs no self-test, so signature, hashing and self-test are tessera's price for a trusted local answer.`,
    );
  }
  notes.push(adapter
    ? `WebGPU adapter in this run: ${JSON.stringify(adapter)}.`
    : 'This Chromium offered no WebGPU adapter.');
  notes.push(...losses({ samples, ratio, adapter }));
  for (const kind of ['ort-wasm', 'ort-webgpu']) {
    const s = samples[kind];
    if (!s.phases.length) continue;
    const p = (k) => fmtMs(median(s.phases.map((x) => x[k] ?? NaN)));
    notes.push(`${kind}: import ${p('create')}, model.onnx from the HTTP cache ${p('fetchMs')}, session (incl. its wasm instantiation) ${p('sessionMs')}, first run ${p('firstRun')}.`);
  }
  const computeNote = CONTENDERS.filter((c) => samples[c.kind].compute.length)
    .map((c) => `${c.kind} ${fmtMs(median(samples[c.kind].compute))}`)
    .join(', ');
  if (computeNote) {
    notes.push(`Steady-state compute as each side reports it (worker compute for tessera, session.run for onnxruntime-web, server compute for the edge): ${computeNote}; the rest of the wall time is messaging (worker postMessage, or JSON + HTTP for the edge).`);
  }
  notes.push(`The edge's cold first request (verify the signed model, build the wonnx session, self-test) took ${fmtMs(edgeColdMs)} from node before the browser started; the edge row's first inference has the server warm.`);
  for (const c of CONTENDERS) {
    const s = samples[c.kind];
    if (s.error) notes.push(`${c.kind} failed in this browser: ${s.error}`);
    const d = diffs[c.kind];
    if (d && d.vsKnownAnswers > tolerance) {
      notes.push(`${c.kind}'s outputs are off the known answers by ${fmtDiff(d.vsKnownAnswers)} (tolerance ${tolerance}).`);
    }
  }
  const agree = Object.entries(diffs).every(([, d]) => d.vsKnownAnswers <= tolerance);
  if (agree) notes.push(`All contenders agree with the ${world.vectors.length} known-answer vectors within ${tolerance} (max |Δ| columns).`);
  notes.push("performance.now() is coarsened to 0.1 ms in this page (not cross-origin isolated), which is also why onnxruntime-web runs on one thread (no SharedArrayBuffer); its ~1 ms runs carry that ±0.1 ms.");
  if (ctx.smoke) notes.push('Smoke mode: one visit per contender, no warm-up, so "cached" is a cold visit.');

  return {
    item: 6,
    id: 'inference',
    title: 'Inference: tessera runtime (wonnx) vs onnxruntime-web, and the edge',
    setup:
      `Demo recommender (${MODEL}, [1,64] → [1,120], 28 MB, Gemm/MatMul/Add/Relu), one headless Chromium with --enable-unsafe-webgpu (SwiftShader), ` +
      `one release tessera serve (no proxy); ${warmup} warm-up + ${reps} measured fresh page loads per contender (rotated order), ` +
      `then ${steadyWarmup} warm-up + ${steadyRuns} timed runs per load; median and min–max of first inference, median and p90 of all steady runs.`,
    columns: [
      'contender', 'first inference (cached)', 'spread', 'ratio', 'steady median', 'steady p90', 'ratio',
      'max |Δ| vs known answers', 'max |Δ| vs ort-web wasm',
    ],
    rows,
    data: {
      unit: 'ms',
      edgeColdFirstRequestMs: edgeColdMs,
      adapter,
      tolerance,
      contenders: Object.fromEntries(CONTENDERS.map((c) => {
        const s = samples[c.kind];
        return [c.kind, {
          label: c.label,
          firstInference: summary(totals(s), 'ms'),
          firstInferenceRatio: ratio(s, 'total'),
          phases: s.phases,
          steady: { ...summary(s.wall, 'ms'), p90: percentile(s.wall, 90), perLoadMedians: s.rounds.map((r) => r?.steady ?? null), ratio: ratio(s, 'steady') },
          compute: summary(s.compute, 'ms'),
          info: s.info,
          maxAbsDiff: diffs[c.kind] ?? null,
          error: s.error,
        }];
      })),
    },
    notes,
  };
}

/**
 * Notes on where tessera's local runtime loses to onnxruntime-web's wasm EP, why, and what
 * would close the gap (only for the measures where it does lose).
 */
function losses({ samples, ratio, adapter }) {
  const local = samples['tessera-local'];
  const webgpu = samples['ort-webgpu'];
  const edge = samples['tessera-edge'];
  if (!local.rounds.length) return [];
  const out = [];
  const med = (s) => median(s.wall);
  const phase = (k) => median(local.phases.map((x) => x[k] ?? NaN));
  const adapterText = adapter ? `${adapter.description || adapter.vendor || 'unnamed adapter'}${adapter.architecture ? ` (${adapter.architecture})` : ''}` : 'unknown';
  if (ratio(local, 'steady') > 1) {
    const peer = webgpu.rounds.length
      ? ` Against the like-for-like peer, onnxruntime-web's WebGPU EP on the same adapter, tessera is ${fmtRatio(med(local) / med(webgpu))} its steady-state time and ${fmtRatio(median(local.rounds.filter(Boolean).map((r) => r.total)) / median(webgpu.rounds.filter(Boolean).map((r) => r.total)))} its time to first inference.`
      : '';
    out.push(
      `Where tessera loses, steady state (${fmtRatio(ratio(local, 'steady'))}): this machine has no GPU, so the WebGPU adapter is ${adapterText}, a GPU emulated on the CPU, ` +
        "and wonnx's compute shaders there cannot match onnxruntime's wasm SIMD kernels doing the same 7 M multiply-adds on the same CPU." + peer +
        ` What would close it: on a CPU-emulated adapter answer from the edge (${fmtMs(med(edge))} per request here vs ${fmtMs(med(local))} locally; the \`auto\` policy learns this from its latency averages) ` +
        'or give the runtime a wasm CPU backend; WebGPU figures that matter need a real GPU (no GPU machine was lent to this run).',
    );
  }
  if (ratio(local, 'total') > 1) {
    out.push(
      `Where tessera loses, first inference (${fmtRatio(ratio(local, 'total'))}): ${fmtMs(phase('selfTestMs'))} is the known-answer self-test ` +
        `(what catches a silently broken shader), ` +
        `and ${fmtMs(phase('fetchMs'))} reading the shards (4 at a time) and hashing each shard and, a second time, the whole file in wasm (item 5: WebCrypto would be ~2.8× faster). Cheap to close: skip the whole-file hash when every shard matched (the signed shard list already pins the bytes), ` +
        'and keep the self-test verdict per model version and adapter (IndexedDB) instead of re-running it on every page load.',
    );
  }
  return out;
}

/** The page's WebGPU adapter (`GPUAdapterInfo` fields and `isFallbackAdapter`), or null without one. */
function inPageAdapter(page) {
  return settle(page.evaluate(() => import('/inference-page.js').then((m) => m.adapterInfo())), 30_000, 'WebGPU adapter info');
}

/** Largest |Δ| over every vector's scores (Infinity when a side has no answers). */
function diffOf(answers, reference) {
  if (!answers || !reference) return Infinity;
  return Math.max(...answers.map((a, i) => maxAbsDiff(a, reference[i])));
}

function fmtDiff(x) {
  if (!Number.isFinite(x)) return '—';
  return x === 0 ? '0' : x.toExponential(1);
}

function firstLine(text) {
  return String(text).split('\n')[0].slice(0, 300);
}

await runAlone(import.meta.url, run);
