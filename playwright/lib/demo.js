// The demo world (Wayfarer, `demo-pwa/`) built the way `cargo xtask demo` builds it: the demo
// models from `models/make_models.py` (built once into `target/demo-models/` and reused), a
// fresh dev key, signed packs of `recommender` and `summarizer` with their test vectors, the app
// directory (demo-pwa + web build + travel.json + tessera.config.json + trusted-keys.json) and
// `tessera serve --app --artifacts --trust` behind the fault-injecting proxy. `demoScenario()`
// wraps `node:test` like `scenario()` does; it knows nothing of what the scenarios assert.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { launchBrowser } from './browser.js';
import { readManifest, REPO_ROOT, tessera, uniqueShardBytes } from './fixtures.js';
import { WEB_DIR, WEB_FILES, worldScenario } from './scenario.js';
import { startProxy, startServer } from './server.js';

const run = promisify(execFile);

/** The demo's two models. */
export const DEMO_MODELS = ['recommender', 'summarizer'];

/** Where the demo models are built once and reused: `$TESSERA_DEMO_MODELS` or `target/demo-models/`. */
export const DEMO_MODELS_DIR = process.env.TESSERA_DEMO_MODELS || path.join(REPO_ROOT, 'target', 'demo-models');

/** Chromium switch that turns WebGPU on in headless Chromium. */
export const WEBGPU_ARGS = ['--enable-unsafe-webgpu'];

/** Files the page reads besides the app and the web build (same list as `xtask/src/demo.rs`). */
const APP_SHELL = [
  '/', '/index.html', '/app.js', '/style.css', '/manifest.webmanifest', '/travel.json',
  '/trusted-keys.json', '/tessera-client.js', '/tessera-runtime.js', '/tessera-runtime-worker.js',
  '/tessera_runtime.js', '/tessera_runtime_bg.wasm', '/ui/messages.js', '/ui/encode.js',
  '/ui/sample.js', '/icons/icon-192.png', '/icons/icon-512.png',
];

/** The demo's sources: `$TESSERA_DEMO_SRC` (to check the scenarios against a changed copy) or `demo-pwa/`. */
const DEMO_SRC = process.env.TESSERA_DEMO_SRC || path.join(REPO_ROOT, 'demo-pwa');
const RESULTS = path.join(REPO_ROOT, 'playwright', 'test-results');

/** Screenshots go here (git-ignored with the rest of `test-results/`). */
export const SCREENSHOTS = path.join(RESULTS, 'screenshots');

let modelsBuilt = null;

/** Builds the demo models into {@link DEMO_MODELS_DIR} unless its files are already there (once per run). */
export function demoModels() {
  const wanted = ['travel.json', ...DEMO_MODELS.flatMap((m) => [`${m}.onnx`, `${m}.vectors.json`])];
  if (wanted.every((f) => existsSync(path.join(DEMO_MODELS_DIR, f)))) return Promise.resolve(DEMO_MODELS_DIR);
  // Built beside the cache and renamed into place, so a test file running in parallel never
  // sees half-written models.
  modelsBuilt ??= (async () => {
    const building = `${DEMO_MODELS_DIR}.building-${process.pid}`;
    await mkdir(building, { recursive: true });
    try {
      await run('python3', [path.join(REPO_ROOT, 'models', 'make_models.py'), '--out', building], {
        timeout: 120_000,
        maxBuffer: 1 << 22,
      });
      await rm(DEMO_MODELS_DIR, { recursive: true, force: true });
      await rename(building, DEMO_MODELS_DIR);
    } catch (err) {
      await rm(building, { recursive: true, force: true });
      throw new Error(`models/make_models.py failed (needs numpy + onnx): ${err.stderr || err.message}`);
    }
    return DEMO_MODELS_DIR;
  })();
  return modelsBuilt;
}

/** A running demo world; see {@link DemoEnv.open}. */
export class DemoEnv {
  /**
   * Packs the demo models with a fresh dev key, assembles the app, serves it behind the proxy
   * and launches Chromium (with WebGPU unless `webgpu: false`). Opens no page.
   */
  static async open({ webgpu = true } = {}) {
    const env = new DemoEnv();
    try {
      const models = await demoModels();
      env.dir = await mkdtemp(path.join(tmpdir(), 'tessera-demo-e2e-'));
      const keyDir = path.join(env.dir, 'dev-key');
      await tessera(['keygen', '--out', keyDir]);
      env.publicKeyFile = path.join(keyDir, 'tessera.pub.json');
      env.artifacts = path.join(env.dir, 'artifacts');
      for (const model of DEMO_MODELS) {
        await tessera([
          'pack', '--key', path.join(keyDir, 'tessera.key'),
          '--name', model, '--version', '1.0.0', '--expires', '365d',
          '--test-vectors', path.join(models, `${model}.vectors.json`),
          '--out', env.artifacts,
          `model.onnx=${path.join(models, `${model}.onnx`)}`,
        ]);
      }
      env.appDir = await assembleApp(env.dir, models, await readFile(env.publicKeyFile, 'utf8'));
      env.server = await startServer({
        artifacts: env.artifacts,
        app: env.appDir,
        trust: [env.publicKeyFile],
        requestLog: path.join(env.dir, 'edge-requests.jsonl'),
      });
      env.proxy = await startProxy(env.server.url);
      env.origin = env.proxy.url;
      env.browser = await launchBrowser({ args: webgpu ? WEBGPU_ARGS : [] });
      env.page = env.browser.page;
    } catch (err) {
      env.pendingError = err;
    }
    return env;
  }

  /** The published manifest of `model` (decoded, unchecked). */
  manifest(model) {
    return readManifest(path.join(this.artifacts, model, 'manifest.json'));
  }

  /** Number of distinct shards a full download of `model` fetches (what the card's "shards" counts). */
  async shardCount(model) {
    const manifest = await this.manifest(model);
    return new Set(manifest.files.flatMap((f) => f.shards.map((s) => s.sha256))).size;
  }

  /** Bytes a full download of `model` fetches. */
  async totalBytes(model) {
    return uniqueShardBytes(await this.manifest(model));
  }

  /** Opens the app (or reloads it) and waits until the preference form is built. */
  async load({ reload = false } = {}) {
    if (reload) await this.page.reload({ waitUntil: 'load' });
    else await this.page.goto(`${this.origin}/`, { waitUntil: 'load' });
    await this.page.locator('#prefs-fields fieldset').first().waitFor({ timeout: 20_000 });
  }

  /** Waits until the download card says the recommender is stored and verified. */
  async waitReady({ timeoutMs = 40_000 } = {}) {
    await this.page.waitForFunction(
      () => document.getElementById('dl-state')?.classList.contains('state-ready') ||
        !document.getElementById('dl-error')?.hidden,
      null,
      { timeout: timeoutMs },
    );
    const error = this.page.locator('#dl-error');
    if (await error.isVisible()) throw new Error(`download card shows an error: ${await error.textContent()}`);
  }

  /** Clicks "Find destinations" and waits for its answer (results or an error). */
  async recommend({ timeoutMs = 30_000 } = {}) {
    await this.page.locator('#rec-run').click();
    await this.page.waitForFunction(
      () => !document.getElementById('rec-meta').hidden || !document.getElementById('rec-error').hidden,
      null,
      { timeout: timeoutMs },
    );
  }

  /** Clicks "Summarize" and waits for its answer (a brief or an error). */
  async summarize({ timeoutMs = 30_000 } = {}) {
    await this.page.locator('#sum-run').click();
    await this.page.waitForFunction(
      () => !document.getElementById('sum-meta').hidden || !document.getElementById('sum-error').hidden,
      null,
      { timeout: timeoutMs },
    );
  }

  /** Sends CDP `method` on the page's session. */
  cdp(method, params = {}) {
    return this.browser.cdp.send(method, params);
  }

  /** Visible text of the element `#selector` (`rec-meta .source` works too; trimmed, empty when hidden). */
  async text(id) {
    const loc = this.page.locator(`#${id}`);
    return (await loc.isVisible()) ? ((await loc.textContent()) ?? '').trim() : '';
  }

  /** Saves a full-page screenshot `name`.png at `width` CSS pixels into {@link SCREENSHOTS}. */
  async screenshot(name, width) {
    await mkdir(SCREENSHOTS, { recursive: true });
    await this.page.setViewportSize({ width, height: 900 });
    const file = path.join(SCREENSHOTS, `${name}.png`);
    await this.page.screenshot({ path: file, fullPage: true });
    return file;
  }

  /** Everything useful for a failure: console, proxy log, server stderr. */
  report() {
    return [
      '--- browser console (page + service worker) ---',
      ...(this.browser?.logs ?? []),
      '--- proxy log ---',
      this.proxy?.format() ?? '(no proxy)',
      '--- tessera serve stderr ---',
      this.server?.stderr() ?? '(no server)',
    ].join('\n');
  }

  /** Stops the browser, proxy and server and removes the world's temporary files. */
  async close() {
    await this.browser?.close();
    await this.proxy?.close();
    await this.server?.stop();
    if (this.dir && !process.env.TESSERA_E2E_KEEP) await rm(this.dir, { recursive: true, force: true });
  }
}

/** The app directory: demo-pwa + web build + travel.json + tessera.config.json + trusted-keys.json. */
async function assembleApp(dir, models, publicKey) {
  const app = path.join(dir, 'app');
  await cp(DEMO_SRC, app, { recursive: true });
  const missing = [...WEB_FILES, 'tessera-runtime.js', 'tessera_runtime_bg.wasm'].filter(
    (f) => !existsSync(path.join(WEB_DIR, f)),
  );
  if (missing.length) {
    throw new Error(`web build incomplete: ${missing.join(', ')} missing in ${WEB_DIR} (run \`cargo xtask build-web\`)`);
  }
  for (const entry of await readdir(WEB_DIR, { withFileTypes: true })) {
    if (entry.isFile()) await cp(path.join(WEB_DIR, entry.name), path.join(app, entry.name));
  }
  await cp(path.join(models, 'travel.json'), path.join(app, 'travel.json'));
  const key = JSON.parse(publicKey);
  const config = {
    prefix: '/models/',
    artifactsBase: '/models/',
    trustedKeys: [key],
    threshold: 1,
    concurrency: 4,
    chunkSize: 1048576,
    appShell: APP_SHELL,
    tokenUrl: null,
  };
  await writeFile(path.join(app, 'tessera.config.json'), JSON.stringify(config, null, 2));
  await writeFile(path.join(app, 'trusted-keys.json'), `${JSON.stringify([key])}\n`);
  return app;
}

/** A scenario over the demo app, in a fresh {@link DemoEnv} (`options` go to `DemoEnv.open`). */
export function demoScenario(name, body, options = {}) {
  worldScenario((o) => DemoEnv.open(o), name, body, { grace: 20_000, ...options });
}
