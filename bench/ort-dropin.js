// Item 9: onnxruntime-web loading a model by plain URL through tessera's drop-in service worker
// (the recipe of docs/recipes.md, as playwright/tests/recipe-onnxruntime-web.test.js proves it)
// vs the same app on the plain HTTP cache. One page (bench/app/ort/), two release `tessera serve`
// over the same packed model, so two origins: `?sw=1` registers the drop-in worker then calls
// `ort.InferenceSession.create(URL)`, `?sw=0` calls it straight away (the server's answer for
// the logical file: `Cache-Control: no-cache` + a strong ETag, so a warm cache revalidates, 304).
// Each round, each contender gets a fresh Chromium profile: first visit (nothing stored, cold HTTP
// cache: for tessera the worker installs, downloads + verifies the model and answers onnxruntime's
// fetch), then a second navigation (cached visit: model stored / HTTP cache warm). Times are the
// page's performance.now(): from the navigation start to the session, and `create` alone.
//
//   node bench/ort-dropin.js [--quick|--smoke]     (prints the BenchItem as JSON)

import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchBrowser } from '../playwright/lib/browser.js';
import { readManifest, REPO_ROOT, tessera } from '../playwright/lib/fixtures.js';
import { makeTinyClassifier } from '../playwright/lib/recipes/world.js';
import { settle, WEB_DIR } from '../playwright/lib/scenario.js';
import { startServer } from '../playwright/lib/server.js';
import { packRecommender, pairedRatios } from './lib/recommender-world.js';
import { fmtBytes, fmtMedian, fmtRatio, fmtSpread, median, MiB, repeat, repsFor, summary } from './lib/stats.js';
import { runAlone } from './lib/standalone.js';
import { BENCH_BROWSER_ARGS } from './lib/world.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Contenders in table order; the ratio base is `plain`. */
const KINDS = ['tessera', 'plain'];
const LABELS = { tessera: 'tessera drop-in SW', plain: 'HTTP cache (no SW)' };

/** onnxruntime-web's wasm build, served under `/ort/` (the recipe's list). */
const ORT_FILES = ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];

/** How long one visit may take before the bench gives up. */
const VISIT_MS = 180_000;

/** Table rows: [key, label, target ratio]. */
const MEASURES = [
  ['first', 'first visit · page start → session ready', 1.3],
  ['firstCreate', 'first visit · `InferenceSession.create` alone', null],
  ['firstFetch', 'first visit · the model URL fetch (Resource Timing)', null],
  ['cached', 'cached visit · `InferenceSession.create`', 1.1],
  ['cachedFetch', 'cached visit · the model URL fetch (Resource Timing)', null],
  ['cachedPage', 'cached visit · page start → session ready', null],
];

/**
 * Runs item 9. See the file comment.
 * @param {import('./run.js').BenchContext} ctx
 */
export async function run(ctx) {
  const log = ctx.log ?? (() => {});
  const { reps, warmup } = repsFor(ctx);
  const world = ctx.smoke ? await tinyWorld() : await recommenderWorld(ctx);
  const servers = {};
  try {
    const app = await buildApp(world, ctx.webDir ?? WEB_DIR);
    for (const kind of KINDS) {
      servers[kind] = await startServer({
        artifacts: world.artifacts,
        app,
        requestLog: path.join(world.dir, `${kind}-requests.jsonl`),
      });
    }
    const runs = Object.fromEntries(KINDS.map((k) => [k, Object.fromEntries(MEASURES.map(([m]) => [m, []]))]));
    const transfer = { plainCachedBodies: 0 };
    const registered = []; // tessera, first visit: page start → the worker controls the page
    await repeat(reps, warmup, async ({ rep, warmUp }) => {
      const order = rep % 2 ? [...KINDS].reverse() : KINDS;
      for (const kind of order) {
        const r = await visits(kind, servers[kind].url, world);
        if (kind === 'plain' && r.cached.resource?.transferSize >= world.size) transfer.plainCachedBodies += 1;
        if (!warmUp) {
          runs[kind].first.push(r.first.readyAt);
          runs[kind].firstCreate.push(r.first.createMs);
          runs[kind].cached.push(r.cached.createMs);
          runs[kind].cachedPage.push(r.cached.readyAt);
          runs[kind].firstFetch.push(r.first.fetchMs);
          runs[kind].cachedFetch.push(r.cached.fetchMs);
          if (kind === 'tessera') registered.push(r.first.registeredAt);
        }
        log(
          `item 9: ${kind} round ${rep + 1}/${reps + warmup}${warmUp ? ' (warm-up)' : ''}: ` +
            `first ${r.first.readyAt.toFixed(0)} ms (create ${r.first.createMs.toFixed(0)}), cached create ${r.cached.createMs.toFixed(0)} ms`,
        );
      }
    });
    // Stopped first, so every request they answered is in their logs.
    await Promise.all(Object.values(servers).map((s) => s.stop()));
    const served = await checkServerLogs(world);

    const rows = [];
    const ratios = {};
    for (const [key, label, target] of MEASURES) {
      const ratio = median(runs.tessera[key]) / median(runs.plain[key]);
      const paired = median(pairedRatios(runs.tessera[key], runs.plain[key]));
      ratios[key] = { ratio, paired, target };
      for (const kind of KINDS) {
        const xs = runs[kind][key];
        rows.push([
          label,
          LABELS[kind],
          fmtMedian(xs, 'ms'),
          fmtSpread(xs),
          kind === 'tessera' ? `${fmtRatio(ratio)} (paired ${fmtRatio(paired)})` : '—',
          kind === 'tessera' && target ? `≤ ${target}×` : '—',
        ]);
      }
    }

    const notes = [];
    for (const [key, , target] of MEASURES) {
      if (!target) continue;
      const { ratio } = ratios[key];
      notes.push(
        `${key === 'first' ? 'First visit' : 'Cached visit'}: tessera / HTTP cache ${fmtRatio(ratio)} (target ≤ ${target}×: ` +
          `${ratio <= target ? 'met' : 'not met'} in this run).`,
      );
    }
    notes.push(
      "First visit, tessera: the page registers the drop-in worker (its install caches the recipe's appShell, onnxruntime-web's " +
        "`.mjs`/`.wasm` included) and waits until it controls the page; onnxruntime-web's fetch of the model URL then makes the " +
        `worker fetch and verify the signed manifest, download the model's ${world.shards}, 4 in parallel, check every sha256, ` +
        'store them and stream the file; before that, its page took ' +
        `${fmtMedian(registered, 'ms')} (median; ${fmtSpread(registered)}) from its start until the worker controlled it. HTTP cache: ` +
        'one plain GET of the file. "create alone" starts after registration; on the first visit it includes, for the HTTP cache ' +
        `only, onnxruntime-web's lazy load of its ${fmtBytes(world.ortWasmBytes)} \`.wasm\` from the network (tessera's install ` +
        'had already put it in Cache Storage). The Resource Timing rows (the model request\'s startTime → responseEnd in the page) ' +
        'isolate the model\'s byte path: for tessera the worker\'s answer, for the HTTP cache the network or the revalidated cache.',
      `Cached visit: tessera answers from its verified store (${served.tesseraLogical} requests for the model URL reached its server); ` +
        `the HTTP cache revalidates (\`no-cache\` + ETag: ${served.plain304} × 304, ${served.plain200} × 200 for the model URL over all rounds` +
        `${transfer.plainCachedBodies ? `; ${transfer.plainCachedBodies} cached visits re-downloaded the body` : ''}).`,
    );

    return [
      {
        item: 9,
        id: 'ort-dropin',
        title: 'onnxruntime-web by plain URL: drop-in SW vs HTTP cache',
        setup:
          `${world.what}, ${fmtBytes(world.size)} in ${world.shards}, loaded with \`ort.InferenceSession.create(url)\` (onnxruntime-web ${world.ortVersion}, ` +
          'wasm EP, 1 thread) by the same page, each contender on its own `tessera serve` origin; every round a fresh Chromium ' +
          'profile per contender: first visit, then a second navigation (cached). ' +
          `${warmup} warm-up + ${reps} measured rounds, contenders alternating; median and min–max ms (page performance.now()).`,
        columns: ['visit · measure', 'contender', 'median', 'spread ms', 'tessera / HTTP cache', 'target'],
        rows,
        data: {
          unit: 'ms',
          reps,
          warmup,
          model: { what: world.what, url: world.url, bytes: world.size },
          ratios,
          served,
          tesseraRegistered: summary(registered, 'ms'),
          ...Object.fromEntries(
            KINDS.map((k) => [k, Object.fromEntries(MEASURES.map(([m]) => [m, summary(runs[k][m], 'ms')]))]),
          ),
        },
        notes,
      },
    ];
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
    await world.dispose();
  }
}

/**
 * The demo recommender (what items 6 and 8 run), packed with a throwaway key in 1 MiB shards.
 * @returns {Promise<object>} world: `{dir, artifacts, trustedKey, what, url, size, dispose()}`
 */
async function recommenderWorld(ctx) {
  const world = await packRecommender({ tesseraBin: ctx.tesseraBin });
  const manifest = await readManifest(path.join(world.artifacts, 'recommender', 'manifest.json'));
  const file = manifest.files.find((f) => f.path === 'model.onnx') ?? manifest.files[0];
  return {
    ...world,
    what: 'The demo recommender `model.onnx`',
    url: '/models/recommender/model.onnx',
    size: file.size,
    shards: describeShards(file, '`tessera pack` default'),
  };
}

/**
 * Smoke mode: the recipe's tiny classifier (models/make_tiny_classifier.py), packed with a
 * throwaway key: proves the item runs in seconds.
 */
async function tinyWorld() {
  const dir = await mkdtemp(path.join(tmpdir(), 'tessera-bench-ort-'));
  try {
    const src = path.join(dir, 'tiny-classifier');
    await makeTinyClassifier(src);
    const keyDir = path.join(dir, 'key');
    await tessera(['keygen', '--out', keyDir]);
    const artifacts = path.join(dir, 'artifacts');
    const onnx = path.join(src, 'onnx', 'model.onnx');
    await tessera([
      'pack', '--key', path.join(keyDir, 'tessera.key'), '--name', 'tiny-clf', '--version', '1.0.0',
      '--shard-size', '1KiB', '--out', artifacts, `onnx/model.onnx=${onnx}`,
    ]);
    const manifest = await readManifest(path.join(artifacts, 'tiny-clf', 'manifest.json'));
    return {
      dir,
      artifacts,
      trustedKey: JSON.parse(await readFile(path.join(keyDir, 'tessera.pub.json'), 'utf8')),
      what: "The recipe's tiny classifier `onnx/model.onnx`",
      url: '/models/tiny-clf/onnx/model.onnx',
      size: (await stat(onnx)).size,
      shards: describeShards(manifest.files[0], 'as the recipe packs it'),
      async dispose() {
        if (!process.env.TESSERA_E2E_KEEP) await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** `'7 shards of ≤ 4.2 MB (why)'` for a manifest file entry. */
function describeShards(file, why) {
  return `${file.shards.length} shards of ≤ ${fmtBytes(Math.max(...file.shards.map((s) => s.size)))} (${why})`;
}

/**
 * The app both origins serve (`world.dir/app-ort`): bench/app/ort/, the web build,
 * onnxruntime-web's wasm build under `/ort/`, and the recipe's `tessera.config.json`.
 */
async function buildApp(world, webDir) {
  const app = path.join(world.dir, 'app-ort');
  await mkdir(path.join(app, 'ort'), { recursive: true });
  await cp(path.join(HERE, 'app', 'ort'), app, { recursive: true });
  if (!existsSync(path.join(webDir, 'sw.js'))) throw new Error(`web build missing in ${webDir} (run \`cargo xtask build-web\`)`);
  for (const entry of await readdir(webDir, { withFileTypes: true })) {
    if (entry.isFile()) await copyFile(path.join(webDir, entry.name), path.join(app, entry.name));
  }
  const dist = path.join(REPO_ROOT, 'node_modules', 'onnxruntime-web', 'dist');
  for (const f of ORT_FILES) {
    if (!existsSync(path.join(dist, f))) throw new Error(`${path.join(dist, f)} missing: run npm ci (package-lock.json pins onnxruntime-web)`);
    await copyFile(path.join(dist, f), path.join(app, 'ort', f));
  }
  world.ortWasmBytes = (await stat(path.join(dist, 'ort-wasm-simd-threaded.wasm'))).size;
  world.ortVersion = JSON.parse(await readFile(path.join(REPO_ROOT, 'node_modules', 'onnxruntime-web', 'package.json'), 'utf8')).version;
  // The recipe's config (docs/recipes.md#onnxruntime-web) with the demo's concurrency and chunk size.
  const config = {
    prefix: '/models/',
    artifactsBase: '/models/',
    trustedKeys: [world.trustedKey],
    threshold: 1,
    concurrency: 4,
    chunkSize: MiB,
    appShell: ['/', '/index.html', '/app.js', '/tessera-client.js', ...ORT_FILES.map((f) => `/ort/${f}`)],
    tokenUrl: null,
  };
  await writeFile(path.join(app, 'tessera.config.json'), JSON.stringify(config, null, 2));
  return app;
}

/**
 * One round of one contender: a fresh Chromium profile, the first visit, then a second
 * navigation (the cached visit). Throws unless both created a session from the right source.
 */
async function visits(kind, origin, world) {
  const browser = await launchBrowser({ args: BENCH_BROWSER_ARGS });
  try {
    const q = (visit) => `${origin}/?sw=${kind === 'tessera' ? 1 : 0}&model=${encodeURIComponent(world.url)}&visit=${visit}`;
    const first = await visit(browser.page, q('first'));
    const cached = await visit(browser.page, q('cached'));
    for (const [which, r] of [['first', first], ['cached', cached]]) {
      if (!r.ok) throw new Error(`${which} visit: ${JSON.stringify(r.error)}`);
      if (!Number.isFinite(r.fetchMs)) throw new Error(`${which} visit: no Resource Timing entry for ${world.url}`);
      const viaWorker = (r.resource?.workerStart ?? 0) > 0;
      if (kind === 'tessera' && (!r.controlled || !viaWorker)) {
        throw new Error(`${which} visit: the model was not answered by the worker: ${JSON.stringify(r)}`);
      }
      if (kind === 'plain' && (r.controlled || viaWorker)) throw new Error(`${which} visit: a worker answered: ${JSON.stringify(r)}`);
    }
    return { first, cached };
  } catch (err) {
    throw new Error(`${kind}: ${err.message}\n${browser.logs.slice(-20).join('\n')}`);
  } finally {
    await browser.close();
  }
}

/** Navigates to `url` and resolves the page's `window.bench.result` once it is set. */
async function visit(page, url) {
  await page.goto(url, { waitUntil: 'load' });
  const handle = page.waitForFunction(() => window.bench?.result, null, { timeout: VISIT_MS, polling: 20 });
  await settle(handle, VISIT_MS + 5000, `session for ${url}`);
  return page.evaluate(() => window.bench.result);
}

/**
 * What each server saw for the logical model URL over all rounds (`tessera serve
 * --request-log`): none for tessera (its worker fetches the manifest and shards), 200s on first
 * visits and 304s on cached visits for the HTTP cache. Throws if tessera's server got one.
 */
async function checkServerLogs(world) {
  const read = async (kind) => {
    const file = path.join(world.dir, `${kind}-requests.jsonl`);
    const text = existsSync(file) ? await readFile(file, 'utf8') : '';
    return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  };
  const tessera = (await read('tessera')).filter((r) => r.path.split('?')[0] === world.url);
  const plain = (await read('plain')).filter((r) => r.path.split('?')[0] === world.url);
  if (tessera.length) throw new Error(`tessera's server was asked for ${world.url} ${tessera.length} times: the worker did not answer it`);
  return {
    tesseraLogical: tessera.length,
    plain200: plain.filter((r) => r.status === 200).length,
    plain304: plain.filter((r) => r.status === 304).length,
  };
}

await runAlone(import.meta.url, run);
