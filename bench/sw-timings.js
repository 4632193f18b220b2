// Measurement aid, not a bench item: where tessera's service worker spends (a) a cold start up to
// its first cached answer (item 7's measure) and (b) a cold download (item 2's). It copies the
// web build with the drop-in worker created with `timings: true` (sw/js/tessera-sw-lib.js: the
// worker then records `tessera:*` performance marks and measures, see sw/src/timing.rs), runs
// the same steps as items 2 and 7 and prints, per round, each mark's time since the worker
// started and the summed duration and count of each measure, read from the worker through
// Playwright. Nothing here is written to BENCHMARKS.md.
//
//   TESSERA_BIN=target/release/tessera TESSERA_WEB_DIR=target/web \
//     node bench/sw-timings.js [--rounds N] [--mib SIZE] [--only start|download]

import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const rounds = Number(opt('rounds', 5));
const mib = Number(opt('mib', 32));
const only = opt('only', null);

const { REPO_ROOT } = await import('../playwright/lib/fixtures.js');
const webDir = process.env.TESSERA_WEB_DIR || path.join(REPO_ROOT, 'target', 'web');
const tmpRoot = path.join(REPO_ROOT, 'target', 'tmp');
const timedWeb = await mkdtemp(path.join(tmpRoot, 'web-timings-'));
await cp(webDir, timedWeb, { recursive: true });
const sw = await readFile(path.join(timedWeb, 'sw.js'), 'utf8');
const timed = sw.replace('createTessera({ dropIn: true })', 'createTessera({ dropIn: true, timings: true })');
if (timed === sw) throw new Error('sw.js no longer calls createTessera({ dropIn: true })');
await writeFile(path.join(timedWeb, 'sw.js'), timed);
process.env.TESSERA_WEB_DIR = timedWeb; // read when scenario.js is imported
const { Env, settle } = await import('../playwright/lib/scenario.js');
const { readAll, timedEnsure } = await import('./lib/page.js');
const { sleep } = await import('../playwright/lib/server.js');

/** The worker's `tessera:*` entries, then cleared: marks as [name, ms since worker start]. */
async function entries(browser) {
  const workers = browser.context.serviceWorkers();
  const worker = workers[workers.length - 1];
  return worker.evaluate(() => {
    const all = performance.getEntries().filter((e) => e.name.startsWith('tessera:'));
    performance.clearMarks();
    performance.clearMeasures();
    const marks = all.filter((e) => e.entryType === 'mark').map((e) => [e.name.slice(8), +e.startTime.toFixed(1)]);
    const measures = {};
    for (const e of all.filter((x) => x.entryType === 'measure')) {
      const m = (measures[e.name.slice(8)] ??= { n: 0, ms: 0, first: e.startTime, last: e.startTime + e.duration });
      m.n += 1;
      m.ms += e.duration;
      m.first = Math.min(m.first, e.startTime);
      m.last = Math.max(m.last, e.startTime + e.duration);
    }
    for (const m of Object.values(measures)) {
      m.ms = +m.ms.toFixed(1);
      m.first = +m.first.toFixed(1);
      m.last = +m.last.toFixed(1);
    }
    return { marks, measures };
  });
}

const env = await Env.open({ fixture: { name: 'probe', weightsSize: mib * 1024 * 1024 }, config: { chunkSize: 1024 * 1024 }, goto: false });
if (env.pendingError) throw env.pendingError;
try {
  env.origin = env.server.url;
  await env.load();
  const ensure = async () => {
    const r = await settle(env.page.evaluate(timedEnsure, env.model), 600_000, 'ensureModel');
    if (!r.ok) throw new Error(`ensureModel failed: ${JSON.stringify(r.error)}`);
    return r.ms;
  };
  if (only !== 'start') {
    for (let i = 0; i < rounds; i++) {
      await env.page.evaluate((m) => window.harness.remove(m), env.model);
      await entries(env.browser);
      const ms = await ensure();
      const e = await entries(env.browser);
      console.log(JSON.stringify({ download: i, mib, ms: +ms.toFixed(1), MBps: +((mib * 1.048576) / (ms / 1000)).toFixed(1), ...e.measures }));
    }
  } else {
    await ensure();
  }
  if (only !== 'download') {
    const url = `/models/${env.model}/config.json`;
    for (let i = 0; i < rounds; i++) {
      await env.browser.stopAllWorkers();
      await sleep(200);
      const cold = await env.page.evaluate(readAll, [{ url }]);
      const warm = await env.page.evaluate(readAll, [{ url }]);
      await sleep(100);
      const e = await entries(env.browser);
      console.log(JSON.stringify({ start: i, coldMs: +cold.ms.toFixed(1), warmMs: +warm.ms.toFixed(1), marks: e.marks, measures: e.measures }));
    }
  }
} finally {
  await env.close();
  await rm(timedWeb, { recursive: true, force: true });
}
