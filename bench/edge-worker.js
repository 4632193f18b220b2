// Bench item 11 (issue #13): the edge worker on local workerd against `tessera serve --engine
// tract` on the same signed demo recommender, same run. Per round, for each contender in
// alternating order: a fresh process is spawned and POSTs of a real inference are sent until the
// first 2xx answer (cold start: process start → first answer, the verified model load included:
// manifest signature, every shard's sha256, session build, known-answer self-test); then the
// same warm process takes `hey -c CONCURRENCY` for a fixed time (steady throughput, p50/p99);
// then it is stopped. Ratios worker ÷ serve are taken per round. The worker is the release build
// xtask makes (target/edge-worker/, `EDGE_WORKER_DIST`), its models read from KV on disk
// (edge-worker/local.mjs, js/kv-disk.mjs); `tessera serve` is TESSERA_BIN (release in `cargo
// xtask bench`, debug in the smoke run of `cargo xtask test`). No auth, no rate limit.
//
//   node bench/edge-worker.js [--quick|--smoke]     (prints the BenchItem as JSON)

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { DEFAULT_DIST, freePort, startWorkerd, writeConfig } from '../edge-worker/local.mjs';
import { HEY, hey } from './edge.js';
import {
  expectedScores, inferBody, maxAbsDiff, MODEL, packRecommender, pairedRatio, pairedRatios,
} from './lib/recommender-world.js';
import { fmtMs, fmtNum, fmtRatio, fmtSpread, median, repeat, repsFor, summary } from './lib/stats.js';
import { runAlone } from './lib/standalone.js';

/** Requests kept in flight by hey in the steady runs. */
export const CONCURRENCY = 4;

/** The release worker build (`cargo xtask` writes it; `EDGE_WORKER_DIST` overrides). */
export const WORKER_DIST = process.env.EDGE_WORKER_DIST || DEFAULT_DIST;

/** How long one contender may take from spawn to its first answer before the bench fails. */
const COLD_LIMIT_MS = 120_000;

/** The two contenders, in table order; `serve` is the ratio base. */
const CONTENDERS = [
  { id: 'worker', label: 'edge worker on workerd (tract on wasm32, model from KV)' },
  { id: 'serve', label: '`tessera serve --engine tract --infer-workers 1` (native tract)' },
];

/**
 * POSTs `body` until the first 2xx answer (connection refused and 503 while starting are
 * retried every 5 ms); resolves the answer's JSON. Any other status fails at once.
 */
async function firstAnswer({ url, child, spawnedAt: started }, body) {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${url}: the process exited (${child.exitCode ?? child.signalCode}) before its first answer`);
    }
    let response;
    try {
      response = await fetch(`${url}/v1/models/${MODEL}/infer`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body,
      });
    } catch {
      response = null; // not listening yet
    }
    if (response?.ok) return response.json();
    if (response && response.status !== 503) {
      throw new Error(`${url}: first inference answered ${response.status}: ${await response.text()}`);
    }
    await response?.arrayBuffer();
    if (performance.now() - started > COLD_LIMIT_MS) throw new Error(`${url}: no answer within ${COLD_LIMIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Stops a child process and waits for it to exit. */
function stop(child) {
  return new Promise((ok) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      ok();
      return;
    }
    child.once('exit', () => ok());
    child.kill('SIGTERM');
  });
}

/** Spawns contender `id` over the world's artifacts; resolves `{url, child, spawnedAt}`. */
async function start(id, world, tesseraBin, scratch) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  if (id === 'worker') {
    const dir = await mkdtemp(path.join(scratch, 'workerd-'));
    const config = writeConfig({
      dir, dist: WORKER_DIST, artifacts: world.artifacts, port,
      env: { TRUSTED_KEYS: JSON.stringify(world.trustedKey), INFER_RATE: '0' },
    });
    // startWorkerd resolves once workerd listens; the clock starts at the spawn, before that.
    const spawnedAt = performance.now();
    const child = await startWorkerd(config);
    return { url, child, spawnedAt };
  }
  const spawnedAt = performance.now();
  const child = spawn(tesseraBin, ['serve', '--artifacts', world.artifacts, '--addr', `127.0.0.1:${port}`,
    '--trust', world.publicKeyFile, '--engine', 'tract', '--infer-workers', '1', '--infer-rate', '0'],
  { stdio: ['ignore', 'ignore', 'ignore'] });
  return { url, child, spawnedAt };
}

/**
 * Runs item 11. See the file comment.
 * @param {{quick: boolean, smoke: boolean, tesseraBin?: string, log?: (msg: string) => void}} ctx
 * @returns {Promise<object[]>} one BenchItem
 */
export async function run(ctx) {
  const log = ctx.log ?? (() => {});
  if (!existsSync(HEY)) throw new Error(`${HEY} missing: apt-get install hey (cargo xtask bench installs it)`);
  if (!existsSync(path.join(WORKER_DIST, 'tessera_edge_worker_bg.wasm'))) {
    throw new Error(`the edge worker is not built in ${WORKER_DIST} (cargo xtask bench and cargo xtask test build it)`);
  }
  const { reps, warmup } = repsFor(ctx, { quick: 3, full: 5 });
  const seconds = ctx.smoke ? 1 : ctx.quick ? 3 : 10;
  const world = await packRecommender({ tesseraBin: ctx.tesseraBin });
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'tessera-bench-edge-worker-'));
  const running = new Set();
  try {
    const tesseraBin = ctx.tesseraBin ?? process.env.TESSERA_BIN;
    const vector = world.vectors[0];
    const body = inferBody(vector);
    const bodyFile = path.join(scratch, 'infer-body.json');
    await writeFile(bodyFile, body);
    const cold = { worker: [], serve: [] };
    const steady = { worker: [], serve: [] };
    const engines = {};
    await repeat(reps, warmup, async ({ rep, warmUp }) => {
      const order = rep % 2 === 0 ? CONTENDERS : [...CONTENDERS].reverse();
      for (const c of order) {
        const proc = await start(c.id, world, tesseraBin, scratch);
        running.add(proc.child);
        try {
          const answer = await firstAnswer(proc, body);
          const coldMs = performance.now() - proc.spawnedAt;
          const diff = maxAbsDiff(answer.outputs?.scores?.data, expectedScores(vector));
          if (!(diff <= (vector.tolerance ?? 1e-3))) throw new Error(`${c.id} answered scores off by ${diff}`);
          engines[c.id] = answer.engine;
          const r = await hey(['-z', `${seconds}s`, '-c', String(CONCURRENCY), '-m', 'POST', '-T', 'application/json',
            '-D', bodyFile, `${proc.url}/v1/models/${MODEL}/infer`], seconds);
          if (!Number.isFinite(r.rps) || !Number.isFinite(r.p50Ms)) {
            throw new Error(`${c.id}: could not read hey's summary:\n${r.raw.slice(0, 1500)}`);
          }
          if (r.failed !== 0 || r.responses === 0) {
            const own = proc.child.output ? `\nworkerd said:\n${proc.child.output().slice(-3000)}` : '';
            throw new Error(`${c.id}: ${r.failed} of ${r.responses + r.errors} requests failed (statuses ${JSON.stringify(r.statuses)}):\n${r.raw.slice(-1500)}${own}`);
          }
          log(`edge-worker: ${c.id}${warmUp ? ' (warm-up)' : ''}: cold ${fmtMs(coldMs)}, ${fmtNum(r.rps)} req/s, p50 ${fmtMs(r.p50Ms)}, p99 ${fmtMs(r.p99Ms)}`);
          if (!warmUp) {
            cold[c.id].push(coldMs);
            const { raw, ...rest } = r;
            steady[c.id].push(rest);
          }
        } finally {
          await stop(proc.child);
          running.delete(proc.child);
        }
      }
    });
    return [item({ ctx, cold, steady, engines, reps, warmup, seconds })];
  } finally {
    await Promise.all([...running].map(stop));
    await rm(scratch, { recursive: true, force: true });
    await world.dispose();
  }
}

/** Builds the BenchItem from the runs. */
function item({ ctx, cold, steady, engines, reps, warmup, seconds }) {
  const rps = (id) => steady[id].map((r) => r.rps);
  const p50 = (id) => steady[id].map((r) => r.p50Ms);
  const p99 = (id) => steady[id].map((r) => r.p99Ms);
  const failed = (id) => steady[id].reduce((a, r) => a + r.failed, 0);
  // Worker ÷ serve, per round (the two ran back to back in that round).
  const ratios = {
    cold: pairedRatios(cold.worker, cold.serve),
    rps: pairedRatios(rps('worker'), rps('serve')),
    p50: pairedRatios(p50('worker'), p50('serve')),
    p99: pairedRatios(p99('worker'), p99('serve')),
  };
  const ratioCell = (id, xs, bases) => (id === 'serve' ? '1.00×' : fmtRatio(pairedRatio(xs, bases)));
  const rows = CONTENDERS.map((c) => [
    c.label,
    String(engines[c.id] ?? '—'),
    fmtMs(median(cold[c.id])),
    fmtSpread(cold[c.id], 0),
    ratioCell(c.id, cold.worker, cold.serve),
    fmtNum(median(rps(c.id)), 0),
    fmtSpread(rps(c.id), 0),
    ratioCell(c.id, rps('worker'), rps('serve')),
    fmtMs(median(p50(c.id))),
    fmtMs(median(p99(c.id))),
    String(failed(c.id)),
  ]);
  const perRound = (xs) => xs.map(fmtRatio).join(', ');
  const notes = [
    `Ratio = worker ÷ tessera serve, taken per round (the two ran back to back, order alternating) and the median of those reported; per round: cold start ${perRound(ratios.cold)}; ` +
      `throughput ${perRound(ratios.rps)}; p50 ${perRound(ratios.p50)}; p99 ${perRound(ratios.p99)}.`,
    'Cold start = spawn of the process → first 2xx answer to a real inference (POSTs retried every 5 ms until one is answered): ' +
      'for the worker, workerd starting, compiling the 15 MB wasm module and the first request reading the manifest and every 4 MiB shard from KV (a directory on disk here), ' +
      'verifying the DSSE signature and each sha256 with tessera-core, building the tract session and passing the known-answer self-test; ' +
      'for tessera serve, the same verification and self-test with native tract, plus its own start.',
    `Steady = the same warm process under hey -c ${CONCURRENCY} -z ${seconds}s (keep-alive). One workerd isolate runs one request at a time (wasm is single-threaded), ` +
      'so tessera serve has one inference worker too; the platform scales the worker by isolates, not threads.',
    `Both on the same ${os.cpus().length} cores as hey; loopback only — no network, no real KV latency (on Cloudflare, KV reads of a cold isolate add their round trips).`,
  ];
  if (ctx.smoke) notes.push(`Smoke mode: one round, ${seconds} s runs, tessera serve from TESSERA_BIN (a debug build in \`cargo xtask test\`): not figures to quote.`);
  return {
    item: 11,
    id: 'edge-worker',
    title: 'Edge worker on workerd vs tessera serve: cold start and steady latency (issue #13)',
    setup:
      `Demo recommender (28 MB, 4 MiB shards, signed with a throwaway key), the release edge worker on local \`workerd serve\` (npm workerd) vs \`tessera serve --engine tract --infer-workers 1\`, ` +
      `both --infer-rate 0 / INFER_RATE=0, no auth, 127.0.0.1; ${warmup} warm-up + ${reps} measured rounds, each spawning both fresh (order alternating); ` +
      "medians and min–max; every request must answer 2xx and the first answer's scores match the known answer, else the bench fails.",
    columns: ['contender', 'engine', 'cold start (median)', 'cold spread', 'cold ratio', 'req/s (median)', 'req/s spread', 'throughput ratio', 'p50', 'p99', 'failed requests'],
    rows,
    data: {
      concurrency: CONCURRENCY,
      seconds,
      engines,
      ratios,
      contenders: Object.fromEntries(CONTENDERS.map((c) => [c.id, {
        label: c.label,
        coldStart: summary(cold[c.id], 'ms'),
        throughput: summary(rps(c.id), 'req/s'),
        p50: summary(p50(c.id), 'ms'),
        p99: summary(p99(c.id), 'ms'),
        runs: steady[c.id],
        coldRuns: cold[c.id],
      }])),
    },
    notes,
  };
}

await runAlone(import.meta.url, run);
