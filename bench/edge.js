// Bench item 8: the edge inference API under a bounded concurrent load on loopback. Debian's
// `hey` keeps C requests in flight for a fixed time against release `tessera serve` instances
// (rate limiter off): POST /v1/models/recommender/infer with a real body (the demo recommender,
// JSON with data_b64) without auth, with JWT auth (`--auth-key`, a `tessera token`), and with
// two inference workers; GET /healthz and GET of the signed manifest under the same load are
// the reference for what the HTTP stack alone costs. Every run must answer only 2xx.
//
//   node bench/edge.js [--quick|--smoke]     (prints the BenchItem as JSON)

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
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

/** Requests kept in flight. */
export const CONCURRENCY = 8;

/** The measured configurations, in table order; the ratio base is `infer`. */
const CASES = [
  { id: 'healthz', label: 'GET /healthz (HTTP stack only)', server: 'plain', request: 'healthz' },
  { id: 'manifest', label: `GET /models/${MODEL}/manifest.json (small file from disk)`, server: 'plain', request: 'manifest' },
  { id: 'infer', label: 'POST infer, no auth, 1 inference worker', server: 'plain', request: 'infer' },
  { id: 'infer-jwt', label: 'POST infer, JWT bearer auth, 1 worker', server: 'auth', request: 'infer' },
  { id: 'infer-2w', label: 'POST infer, no auth, --infer-workers 2', server: 'workers2', request: 'infer' },
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
  const world = await packRecommender({ tesseraBin: ctx.tesseraBin });
  const servers = {};
  try {
    servers.plain = await serveRecommender(world);
    servers.auth = await serveRecommender(world, { auth: true });
    servers.workers2 = await serveRecommender(world, { workers: 2 });
    const token = await mintToken(world);
    const body = path.join(world.dir, 'infer-body.json');
    const vector = world.vectors[0];
    await writeFile(body, inferBody(vector));

    // Warm each server (model verified, session built, self-tested) and check its answer.
    const cold = {};
    for (const [name, server] of Object.entries(servers)) {
      const started = performance.now();
      const answer = await postInfer(server.url, inferBody(vector), name === 'auth' ? token : undefined);
      cold[name] = performance.now() - started;
      const diff = maxAbsDiff(answer.outputs?.scores?.data, expectedScores(vector));
      if (!(diff <= (vector.tolerance ?? 1e-3))) throw new Error(`edge ${name} answered scores off by ${diff}`);
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
    const results = Object.fromEntries(CASES.map((c) => [c.id, []]));
    await repeat(reps, warmup, async ({ rep, warmUp }) => {
      const order = CASES.map((_, i) => CASES[(i + rep) % CASES.length]);
      for (const c of order) {
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
    return [item({ ctx, results, cold, reps, warmup, seconds })];
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

/** Builds the BenchItem from the runs. */
function item({ ctx, results, cold, reps, warmup, seconds }) {
  const rps = (id) => results[id].map((r) => r.rps);
  const p50 = (id) => results[id].map((r) => r.p50Ms);
  const p99 = (id) => results[id].map((r) => r.p99Ms);
  const base = median(rps(BASE));
  const ratio = (id) => pairedRatio(rps(id), rps(BASE));
  const rows = CASES.map((c) => [
    c.label,
    `${fmtNum(median(rps(c.id)), 0)} req/s`,
    fmtSpread(rps(c.id), 0),
    fmtRatio(ratio(c.id)),
    fmtMs(median(p50(c.id))),
    fmtMs(median(p99(c.id))),
    String(results[c.id].reduce((a, r) => a + r.failed, 0)),
  ]);
  const jwt = ratio('infer-jwt');
  const two = ratio('infer-2w');
  const twoRounds = pairedRatios(rps('infer-2w'), rps(BASE));
  const perInfer = 1000 / base;
  // The JWT check's own cost: server time per answer (1 ÷ throughput) on the 404 path, with
  // minus without, per round.
  const jwtCostMs = median(results.unknown.map((r, i) => 1000 / results['unknown-jwt'][i].rps - 1000 / r.rps));
  const notes = [
    "Ratio = throughput ÷ the 1-worker inference row's, taken per round (rows measured back to back see the same background load) and the median of those reported.",
    `JWT bearer auth (EdDSA signature, audience and expiry on every request) costs ${fmtMs(jwtCostMs)} per request, measured where nothing else is expensive ` +
      `(the unknown-model rows: ${fmtNum(median(rps('unknown-jwt')), 0)} vs ${fmtNum(median(rps('unknown')), 0)} answers/s): ` +
      `${(100 * jwtCostMs) / perInfer < 0.1 ? 'under 0.1' : fmtNum((100 * jwtCostMs) / perInfer, 1)}% of one inference's ${fmtMs(perInfer)}. ` +
      `The inference rows with and without JWT (ratio ${fmtRatio(jwt)}; p50 ${fmtMs(median(p50('infer-jwt')))} vs ${fmtMs(median(p50(BASE)))}) differ ` +
      `${Math.abs(jwt - 1) > (2 * jwtCostMs) / perInfer + 0.05 ? 'by more than that: background load on the shared machine, not the check' : 'by about that'}.`,
    `One inference answer takes ~${fmtMs(perInfer)} of server time (1 ÷ throughput) against ~${fmtMs(1000 / median(rps('healthz')))} per /healthz answer: ` +
      'the HTTP stack, JSON and base64 are a small share, the inference run (the engine `--engine auto` picks: tract on a machine without a GPU) is the cost, and with one worker requests queue, ' +
      `so p50 at ${CONCURRENCY} in flight is about ${CONCURRENCY} runs.`,
    `\`--infer-workers 1\` in every row but one (the default, 0, is one worker per core for tract); with 2 workers throughput is ${fmtRatio(two)} of one worker on this ${os.cpus().length}-core machine ` +
      `(two engine sessions and hey share the same cores; per round ${twoRounds.map(fmtRatio).join(', ')}): ${workersVerdict(twoRounds)}.`,
    `hey ${CONCURRENCY} connections (keep-alive) for ${seconds} s per run; latencies are hey's, to 0.1 ms. ` +
      `Cold first request per server (verify the signed 28 MB model, build the session, self-test): ${Object.entries(cold).map(([k, v]) => `${k} ${fmtMs(v)}`).join(', ')}.`,
  ];
  if (ctx.smoke) notes.push('Smoke mode: one 1 s run per row, no warm-up.');
  return {
    item: 8,
    id: 'edge',
    title: 'Edge inference API under load (hey, loopback), with and without JWT',
    setup:
      `Release tessera serve on 127.0.0.1, --infer-rate 0, demo recommender (JSON body with data_b64, 1×64 float32 → 1×120); ` +
      `hey -c ${CONCURRENCY} -z ${seconds}s, ${warmup} warm-up + ${reps} measured runs per row (rotated order); median and min–max throughput, median of the runs' p50/p99; every request must answer 2xx (404 on the unknown-model rows), else the bench fails.`,
    columns: ['measure', 'throughput (median)', 'spread', 'ratio', 'p50', 'p99', 'failed requests'],
    rows,
    data: {
      concurrency: CONCURRENCY,
      seconds,
      inferWorkersDefault: 1,
      coldFirstRequestMs: cold,
      jwtCostMs,
      cases: Object.fromEntries(CASES.map((c) => [c.id, {
        label: c.label,
        throughput: summary(rps(c.id), 'req/s'),
        ratio: ratio(c.id),
        p50: summary(p50(c.id), 'ms'),
        p99: summary(p99(c.id), 'ms'),
        runs: results[c.id].map(({ raw, ...r }) => r),
      }])),
    },
    notes,
  };
}

await runAlone(import.meta.url, run);
