// Bench item 8: the edge inference API under a bounded concurrent load on loopback. Debian's
// `hey` keeps C requests in flight for a fixed time against release `tessera serve --engine
// tract` instances (rate limiter off): POST /v1/models/recommender/infer with a real body (the
// demo recommender, JSON with data_b64) without auth, with JWT auth (`--auth-key`, a `tessera
// token`), and with two inference workers; GET /healthz and GET of the signed manifest under the
// same load are the reference for what the HTTP stack alone costs. Every run must answer only
// 2xx. The native anchor (issue #11): onnxruntime in-process on the same model and machine with
// 1 and 2 threads (models/bench_onnxruntime.py, JSON on stdout), run in the same rotated rounds
// as the `hey` rows so both see the same background load; each tract row is reported as a ratio
// to the anchor with as many threads as it has inference workers.
//
//   node bench/edge.js [--quick|--smoke]     (prints the BenchItem as JSON)

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import {
  expectedScores, inferBody, maxAbsDiff, mintToken, MODEL, packRecommender, pairedRatio, pairedRatios, postInfer,
  serveRecommender,
} from './lib/recommender-world.js';
import { fmtMs, fmtNum, fmtRatio, fmtSpread, median, repeat, repsFor, summary } from './lib/stats.js';
import { runAlone } from './lib/standalone.js';

const run_ = promisify(execFile);

/** The load generator: `$HEY` or Debian's `/usr/bin/hey` (package `hey`). */
export const HEY = process.env.HEY || '/usr/bin/hey';

/** The Python that runs the onnxruntime anchor: `$PYTHON` or `python3`. */
export const PYTHON = process.env.PYTHON || 'python3';

/** The anchor script (one JSON object on stdout). */
export const ANCHOR_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'models', 'bench_onnxruntime.py');

/** Requests kept in flight. */
export const CONCURRENCY = 8;

/** The engine every inference server runs (`tessera serve --engine`). */
export const ENGINE = 'tract';

/** Issue #11's edge target against the anchor: throughput ratio, p99 (ms), failed requests. */
export const TARGET = { ratio: 0.7, p99Ms: 20, failed: 0 };

/**
 * The measured configurations, in table order; the ratio base is `infer`. `anchor` names the
 * onnxruntime row with as many threads as the server has inference workers; `threads` marks an
 * onnxruntime row.
 */
const CASES = [
  { id: 'healthz', label: 'GET /healthz (HTTP stack only)', server: 'plain', request: 'healthz' },
  { id: 'manifest', label: `GET /models/${MODEL}/manifest.json (small file from disk)`, server: 'plain', request: 'manifest' },
  { id: 'infer', label: 'POST infer, no auth, --infer-workers 1', server: 'plain', request: 'infer', anchor: 'ort-1' },
  { id: 'infer-jwt', label: 'POST infer, JWT bearer auth, --infer-workers 1', server: 'auth', request: 'infer', anchor: 'ort-1' },
  { id: 'infer-2w', label: 'POST infer, no auth, --infer-workers 2', server: 'workers2', request: 'infer', anchor: 'ort-2' },
  { id: 'ort-1', label: 'onnxruntime in-process, 1 thread (native anchor, no HTTP)', threads: 1 },
  { id: 'ort-2', label: 'onnxruntime in-process, 2 threads (native anchor, no HTTP)', threads: 2 },
  // Auth, rate check and body read happen before the model is looked up: a model that does not
  // exist (404) measures that path without the run, so the JWT check's own cost shows.
  { id: 'unknown', label: 'POST infer to an unknown model, no auth (404 after the body is read)', server: 'plain', request: 'unknown', expect: '404' },
  { id: 'unknown-jwt', label: 'POST infer to an unknown model, JWT (404 after the check)', server: 'auth', request: 'unknown', expect: '404' },
];
const BASE = 'infer';

/**
 * Runs item 8. See the file comment.
 * @param {{quick: boolean, smoke: boolean, tesseraBin?: string, log?: (msg: string) => void}} ctx
 * @returns {Promise<object[]>} one BenchItem
 */
export async function run(ctx) {
  const log = ctx.log ?? (() => {});
  if (!existsSync(HEY)) throw new Error(`${HEY} missing: apt-get install hey (cargo xtask bench installs it)`);
  const { reps, warmup } = repsFor(ctx);
  const seconds = ctx.smoke ? 1 : ctx.quick ? 3 : 10;
  // The anchor needs onnxruntime (models/requirements.txt; `cargo xtask bench` and `cargo xtask
  // test` install it). Without it only a smoke run goes on, and says so.
  const anchorMissing = await anchorUnavailable();
  if (anchorMissing && !ctx.smoke) {
    throw new Error(`the onnxruntime anchor cannot run: ${anchorMissing} (pip install -r models/requirements.txt; cargo xtask bench installs it)`);
  }
  const cases = anchorMissing ? CASES.filter((c) => !c.threads) : CASES;
  const world = await packRecommender({ tesseraBin: ctx.tesseraBin });
  const servers = {};
  try {
    servers.plain = await serveRecommender(world, { engine: ENGINE });
    servers.auth = await serveRecommender(world, { auth: true, engine: ENGINE });
    servers.workers2 = await serveRecommender(world, { workers: 2, engine: ENGINE });
    const token = await mintToken(world);
    const body = path.join(world.dir, 'infer-body.json');
    const vector = world.vectors[0];
    await writeFile(body, inferBody(vector));

    // Warm each server (model verified, session built, self-tested), check its answer and
    // which engine computed it.
    const cold = {};
    const engines = {};
    for (const [name, server] of Object.entries(servers)) {
      const started = performance.now();
      const answer = await postInfer(server.url, inferBody(vector), name === 'auth' ? token : undefined);
      cold[name] = performance.now() - started;
      const diff = maxAbsDiff(answer.outputs?.scores?.data, expectedScores(vector));
      if (!(diff <= (vector.tolerance ?? 1e-3))) throw new Error(`edge ${name} answered scores off by ${diff}`);
      if (!String(answer.engine ?? '').startsWith(ENGINE)) {
        throw new Error(`edge ${name} (--engine ${ENGINE}) answered from engine ${JSON.stringify(answer.engine)}`);
      }
      engines[name] = answer.engine;
    }
    const unauthorized = await fetch(`${servers.auth.url}/v1/models/${MODEL}/infer`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: inferBody(vector),
    });
    if (unauthorized.status !== 401) throw new Error(`the JWT edge answered ${unauthorized.status} without a token (401 expected)`);

    const argsOf = (c) => {
      const url = servers[c.server].url;
      const common = ['-z', `${seconds}s`, '-c', String(CONCURRENCY)];
      if (c.request === 'healthz') return [...common, `${url}/healthz`];
      if (c.request === 'manifest') return [...common, `${url}/models/${MODEL}/manifest.json`];
      const auth = c.server === 'auth' ? ['-H', `Authorization: Bearer ${token}`] : [];
      const model = c.request === 'unknown' ? 'no-such-model' : MODEL;
      return [...common, '-m', 'POST', '-T', 'application/json', '-D', body, ...auth, `${url}/v1/models/${model}/infer`];
    };
    const results = Object.fromEntries(cases.map((c) => [c.id, []]));
    const anchors = {};
    await repeat(reps, warmup, async ({ rep, warmUp }) => {
      const order = cases.map((_, i) => cases[(i + rep) % cases.length]);
      for (const c of order) {
        if (c.threads) {
          const r = await anchor(world, c.threads, seconds);
          log(`edge: ${c.id}${warmUp ? ' (warm-up)' : ''}: onnxruntime ${r.version}, ${fmtNum(r.rps)} inferences/s, p50 ${fmtMs(r.p50Ms)}, p99 ${fmtMs(r.p99Ms)}`);
          anchors[c.id] = r;
          if (!warmUp) results[c.id].push(r);
          continue;
        }
        const r = await hey(argsOf(c), seconds, c.expect);
        log(`edge: ${c.id}${warmUp ? ' (warm-up)' : ''}: ${fmtNum(r.rps)} req/s, p50 ${fmtMs(r.p50Ms)}, p99 ${fmtMs(r.p99Ms)}`);
        if (!Number.isFinite(r.rps) || !Number.isFinite(r.p50Ms)) {
          throw new Error(`edge ${c.id}: could not read hey's summary (throughput ${r.rps}, p50 ${r.p50Ms}):\n${r.raw.slice(0, 1500)}`);
        }
        if (r.failed !== 0 || r.responses === 0) {
          throw new Error(`edge ${c.id}: ${r.failed} of ${r.responses + r.errors} requests failed (statuses ${JSON.stringify(r.statuses)}, errors ${r.errors}):\n${r.raw.slice(-1500)}`);
        }
        if (!warmUp) results[c.id].push(r);
      }
    });
    return [item({ ctx, cases, results, cold, engines, anchors, anchorMissing, reps, warmup, seconds })];
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
    await world.dispose();
  }
}

/**
 * One `hey` run: throughput (expected answers per second), p50/p99 latency (ms), status counts
 * and the number of failed requests (other statuses plus transport errors). `expect` is the
 * status wanted: a prefix, default '2' (any 2xx).
 */
export async function hey(args, seconds, expect = '2') {
  let stdout;
  try {
    ({ stdout } = await run_(HEY, args, { timeout: (seconds + 60) * 1000, maxBuffer: 1 << 22 }));
  } catch (err) {
    throw new Error(`${HEY} ${args.join(' ')} failed: ${err.stderr || err.message}`);
  }
  return parseHey(stdout, expect);
}

/**
 * Why the anchor cannot run here (onnxruntime or numpy not importable), or null when it can.
 */
async function anchorUnavailable() {
  try {
    await run_(PYTHON, ['-c', 'import numpy, onnxruntime'], { timeout: 60_000 });
    return null;
  } catch (err) {
    const why = String(err.stderr || err.message).trim().split('\n').pop();
    return `${PYTHON}: ${why}`;
  }
}

/**
 * One anchor run: models/bench_onnxruntime.py with `threads` threads for `seconds` on the
 * world's unpacked recommender. Resolves its JSON with `rps` (inferences/s), `p50Ms`, `p99Ms`
 * and `failed: 0` added, in the shape of a {@link hey} result.
 */
export async function anchor(world, threads, seconds) {
  const args = [ANCHOR_SCRIPT, world.modelFile, world.vectorsFile, String(threads), String(seconds)];
  let stdout;
  try {
    ({ stdout } = await run_(PYTHON, args, { timeout: (seconds + 120) * 1000, maxBuffer: 1 << 20 }));
  } catch (err) {
    throw new Error(`${PYTHON} ${args.join(' ')} failed: ${(err.stdout || '').trim()} ${err.stderr || err.message}`);
  }
  const line = stdout.trim().split('\n').pop() ?? '';
  let r;
  try {
    r = JSON.parse(line);
  } catch {
    throw new Error(`${ANCHOR_SCRIPT} printed no JSON: ${stdout.slice(-500)}`);
  }
  if (!r.ok || !(r.inferencesPerSec > 0)) throw new Error(`${ANCHOR_SCRIPT}: ${r.error ?? `no inferences (${line})`}`);
  return { ...r, rps: r.inferencesPerSec, failed: 0 };
}

/**
 * Parses hey's text summary (hey 0.1.4): `Total`, `Latency distribution` (50% / 99% lines, in
 * seconds), `Status code distribution` and `Error distribution`; answers whose status starts
 * with `expect` count as good.
 */
export function parseHey(text, expect = '2') {
  const num = (re) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : NaN;
  };
  const statuses = {};
  for (const m of text.matchAll(/^\s*\[(\d{3})\]\s+(\d+) responses/gm)) statuses[m[1]] = Number(m[2]);
  const errorsSection = text.split('Error distribution:')[1] ?? '';
  let errors = 0;
  for (const m of errorsSection.matchAll(/^\s*\[(\d+)\]\s/gm)) errors += Number(m[1]);
  const responses = Object.values(statuses).reduce((a, b) => a + b, 0);
  const ok = Object.entries(statuses).filter(([s]) => s.startsWith(expect)).reduce((a, [, n]) => a + n, 0);
  const totalSecs = num(/Total:\s+([\d.]+) secs/);
  return {
    totalSecs,
    rps: ok / totalSecs,
    p50Ms: num(/50% in ([\d.]+) secs/) * 1000,
    // hey prints no 99% line below 100 answers; nearest-rank p99 is then the slowest one.
    p99Ms: (/99% in/.test(text) ? num(/99% in ([\d.]+) secs/) : num(/Slowest:\s+([\d.]+) secs/)) * 1000,
    statuses,
    responses,
    errors,
    failed: responses - ok + errors,
    raw: text,
  };
}

/** Whether a second inference worker helped, from its per-round throughput ratios. */
function workersVerdict(ratios) {
  if (ratios.length && ratios.every((r) => r >= 1.1)) return 'more workers help here';
  if (ratios.length && ratios.every((r) => r <= 1.05)) return 'no gain here, keep the default';
  return 'no consistent gain under this background load, so keep the default';
}

/** Whether a row met issue #11's target against its anchor, in words. */
function targetVerdict({ ratio, p99Ms, failed }) {
  const misses = [];
  if (!(ratio >= TARGET.ratio)) misses.push(`ratio ${fmtRatio(ratio)} < ${TARGET.ratio}×`);
  if (!(p99Ms < TARGET.p99Ms)) misses.push(`p99 ${fmtMs(p99Ms)} ≥ ${TARGET.p99Ms} ms`);
  if (failed !== TARGET.failed) misses.push(`${failed} failed`);
  return misses.length ? `not met (${misses.join(', ')})` : 'met';
}

/** Builds the BenchItem from the runs. */
function item({ ctx, cases, results, cold, engines, anchors, anchorMissing, reps, warmup, seconds }) {
  const rps = (id) => (results[id] ?? []).map((r) => r.rps);
  const p50 = (id) => (results[id] ?? []).map((r) => r.p50Ms);
  const p99 = (id) => (results[id] ?? []).map((r) => r.p99Ms);
  const failed = (id) => (results[id] ?? []).reduce((a, r) => a + r.failed, 0);
  const base = median(rps(BASE));
  const ratio = (id) => pairedRatio(rps(id), rps(BASE));
  // Edge throughput ÷ the anchor with as many threads as the server has workers, per round.
  const vsAnchor = (c) => (c.anchor && results[c.anchor] ? pairedRatio(rps(c.id), rps(c.anchor)) : NaN);
  const version = Object.values(anchors)[0]?.version;
  const engineOf = (c) => {
    if (c.threads) return version ? `onnxruntime ${version} CPU EP` : 'onnxruntime CPU EP';
    if (c.request === 'infer') return `${engines[c.server]} (--engine ${ENGINE})`;
    return '— (no inference)';
  };
  const rows = cases.map((c) => [
    c.label,
    engineOf(c),
    fmtNum(median(rps(c.id)), 0),
    fmtSpread(rps(c.id), 0),
    fmtRatio(ratio(c.id)),
    fmtRatio(vsAnchor(c)),
    fmtMs(median(p50(c.id))),
    fmtMs(median(p99(c.id))),
    c.threads ? '—' : String(failed(c.id)),
  ]);
  const jwt = ratio('infer-jwt');
  const two = ratio('infer-2w');
  const twoRounds = pairedRatios(rps('infer-2w'), rps(BASE));
  const perInfer = 1000 / base;
  // The JWT check's own cost: server time per answer (1 ÷ throughput) on the 404 path, with
  // minus without, per round.
  const jwtCostMs = median(results.unknown.map((r, i) => 1000 / results['unknown-jwt'][i].rps - 1000 / r.rps));
  const edgeRows = cases.filter((c) => c.anchor);
  const targets = Object.fromEntries(edgeRows.map((c) => [c.id, {
    anchor: c.anchor,
    ratio: vsAnchor(c),
    ratioPerRound: results[c.anchor] ? pairedRatios(rps(c.id), rps(c.anchor)) : [],
    p99Ms: median(p99(c.id)),
    failed: failed(c.id),
  }]));
  const notes = [
    "Ratio = throughput ÷ the no-auth 1-worker inference row's, taken per round (rows measured back to back see the same background load) and the median of those reported; " +
      '"÷ onnxruntime" = a tract row\'s answers/s ÷ the onnxruntime anchor\'s inferences/s with as many threads as the server has inference workers, paired the same way.',
  ];
  if (anchorMissing) {
    notes.push(`Smoke mode: the onnxruntime anchor was skipped (${anchorMissing}); a quick or full run fails without it.`);
  } else {
    const perRound = (id) => targets[id].ratioPerRound.map(fmtRatio).join(', ');
    notes.push(
      `Issue #11's target: edge throughput at hey -c ${CONCURRENCY} ≥ ${TARGET.ratio}× onnxruntime's inferences/s with the same number of threads, p99 < ${TARGET.p99Ms} ms, 0 errors, with and without JWT. This run: ` +
        edgeRows.map((c) => `${c.label.replace('POST infer, ', '')} vs onnxruntime ${c.anchor === 'ort-1' ? '1 thread' : '2 threads'}: ${fmtRatio(targets[c.id].ratio)} (per round ${perRound(c.id)}), ` +
          `p99 ${fmtMs(targets[c.id].p99Ms)}, ${targets[c.id].failed} failed — ${targetVerdict(targets[c.id])}`).join('; ') +
        (ctx.smoke ? '. Smoke mode: 1 s runs against whatever TESSERA_BIN is (a debug build in `cargo xtask test`): not a verdict.' : '.'),
      `Engines: every inference row was served by \`tessera serve --engine ${ENGINE}\` (the answers' \`engine\`: ${[...new Set(Object.values(engines))].join(', ')}); ` +
        `the anchor is onnxruntime ${version} (CPU execution provider) in-process, on the same recommender.onnx and machine: \`${PYTHON} models/bench_onnxruntime.py MODEL VECTORS THREADS ${seconds}\`, ` +
        'THREADS Python threads each running its own session (intra-op 1 thread, sequential) in a loop, the shape of `--infer-workers THREADS`; ' +
        `it checks the first known answer (max abs diff ${anchors['ort-1']?.maxAbsDiff?.toExponential(1)}) and runs no HTTP, JSON or base64 and no load generator, ` +
        `so the ratio is all the edge costs over the bare engine: the server, and hey's own CPU on the same ${os.cpus().length} cores (most felt by the 2-worker row). ` +
        "The anchor's p50/p99 are one inference's latency at 1 in flight per thread, not comparable with hey's at " + `${CONCURRENCY} in flight. ` +
        `No wonnx row: \`--engine auto\` picks wonnx only on a GPU that is not a CPU adapter, and item 6 compares it in the browser.`,
    );
  }
  notes.push(
    `JWT bearer auth (EdDSA signature, audience and expiry on every request) costs ${fmtMs(jwtCostMs)} per request, measured where nothing else is expensive ` +
      `(the unknown-model rows: ${fmtNum(median(rps('unknown-jwt')), 0)} vs ${fmtNum(median(rps('unknown')), 0)} answers/s): ` +
      `${(100 * jwtCostMs) / perInfer < 0.1 ? 'under 0.1' : fmtNum((100 * jwtCostMs) / perInfer, 1)}% of one inference's ${fmtMs(perInfer)}. ` +
      `The inference rows with and without JWT (ratio ${fmtRatio(jwt)}; p50 ${fmtMs(median(p50('infer-jwt')))} vs ${fmtMs(median(p50(BASE)))}) differ ` +
      `${Math.abs(jwt - 1) > (2 * jwtCostMs) / perInfer + 0.05 ? 'by more than that: background load on the shared machine, not the check' : 'by about that'}.`,
    `One inference answer takes ~${fmtMs(perInfer)} of server time (1 ÷ throughput) against ~${fmtMs(1000 / median(rps('healthz')))} per /healthz answer: ` +
      `the HTTP stack, JSON and base64 are a small share, the inference run (tract) is the cost, and with one worker requests queue, ` +
      `so p50 at ${CONCURRENCY} in flight is about ${CONCURRENCY} runs.`,
    `\`--infer-workers 1\` in every tract row but one (the default, 0, is one worker per core for tract); with 2 workers throughput is ${fmtRatio(two)} of one worker on this ${os.cpus().length}-core machine ` +
      `(two engine sessions and hey share the same cores; per round ${twoRounds.map(fmtRatio).join(', ')}): ${workersVerdict(twoRounds)}.`,
    `hey ${CONCURRENCY} connections (keep-alive) for ${seconds} s per run; latencies are hey's, to 0.1 ms. ` +
      `Cold first request per server (verify the signed 28 MB model, build the session, self-test): ${Object.entries(cold).map(([k, v]) => `${k} ${fmtMs(v)}`).join(', ')}` +
      `${anchorMissing ? '' : `; onnxruntime session creation ${fmtMs(median(Object.values(anchors).map((a) => a.sessionMs)))}`}.`,
  );
  if (ctx.smoke) notes.push('Smoke mode: one 1 s run per row, no warm-up.');
  return {
    item: 8,
    id: 'edge',
    title: 'Edge inference API under load (hey, loopback), with and without JWT, against native onnxruntime',
    setup:
      `Release tessera serve --engine ${ENGINE} on 127.0.0.1, --infer-rate 0, demo recommender (JSON body with data_b64, 1×64 float32 → 1×120); ` +
      `hey -c ${CONCURRENCY} -z ${seconds}s, and the onnxruntime anchor in-process for ${seconds} s, ${warmup} warm-up + ${reps} measured runs per row (rotated order, anchor runs among the hey runs); ` +
      "median and min–max throughput (hey: answers/s; onnxruntime: inferences/s), median of the runs' p50/p99; every request must answer 2xx (404 on the unknown-model rows), else the bench fails.",
    columns: ['measure', 'engine', 'per second (median)', 'spread', 'ratio', '÷ onnxruntime, same threads', 'p50', 'p99', 'failed requests'],
    rows,
    data: {
      concurrency: CONCURRENCY,
      seconds,
      engine: ENGINE,
      engines,
      inferWorkersDefault: 1,
      coldFirstRequestMs: cold,
      jwtCostMs,
      anchor: anchorMissing ? { skipped: anchorMissing } : { script: 'models/bench_onnxruntime.py', version, python: PYTHON },
      target: { ...TARGET, rows: targets },
      cases: Object.fromEntries(cases.map((c) => [c.id, {
        label: c.label,
        engine: engineOf(c),
        throughput: summary(rps(c.id), c.threads ? 'inferences/s' : 'req/s'),
        ratio: ratio(c.id),
        vsAnchor: vsAnchor(c),
        p50: summary(p50(c.id), 'ms'),
        p99: summary(p99(c.id), 'ms'),
        runs: results[c.id].map(({ raw, ...r }) => r),
      }])),
    },
    notes,
  };
}

await runAlone(import.meta.url, run);
