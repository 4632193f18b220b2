// The demo world (Wayfarer, `demo-pwa/`) built the way `cargo xtask demo` builds it: the demo
// models from `models/make_models.py` (built into `target/demo-models/`, reused while current), a
// fresh dev key, signed packs of `recommender` and `summarizer` with their test vectors, the app
// directory (demo-pwa + web build + travel.json + tessera.config.json + trusted-keys.json) and
// `tessera serve --app --artifacts --trust` behind the fault-injecting proxy. `demoScenario()`
// wraps `node:test` like `scenario()` does; it knows nothing of what the scenarios assert.

import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { launchBrowser } from './browser.js';
import {
  flipFileByte,
  readManifest,
  REPO_ROOT,
  shardsOf,
  tamperSignature,
  tessera,
  uniqueShardBytes,
  waitPastExpiry,
} from './fixtures.js';
import { settle, WEB_DIR, WEB_FILES, World, worldScenario } from './scenario.js';
import { startProxy, startServer } from './server.js';

const run = promisify(execFile);

/** The demo's two models. */
export const DEMO_MODELS = ['recommender', 'summarizer'];

/** Where the demo models are built once and reused: `$TESSERA_DEMO_MODELS` or `target/demo-models/`. */
export const DEMO_MODELS_DIR = process.env.TESSERA_DEMO_MODELS || path.join(REPO_ROOT, 'target', 'demo-models');

/**
 * The badge (`.source`) of an answer computed on this device: "This device · GPU" (WebGPU) or
 * "This device · CPU" (the runtime's CPU engine; on a software adapter such as SwiftShader the
 * runtime prefers it). Edge answers read "Edge".
 */
export const ON_DEVICE = /^This device \u00b7 (GPU|CPU)$/;

/** Chromium switch that turns WebGPU on in headless Chromium. */
export const WEBGPU_ARGS = ['--enable-unsafe-webgpu'];

/** Files the page reads besides the app and the web build (same list as `xtask/src/demo.rs` and demo-pwa/README.md). */
const APP_SHELL = [
  '/', '/index.html', '/app.js', '/style.css', '/manifest.webmanifest', '/travel.json',
  '/trusted-keys.json', '/tessera-client.js', '/tessera-runtime.js', '/tessera-runtime-worker.js',
  '/tessera_runtime.js', '/tessera_runtime_bg.wasm', '/tessera_runtime_webgpu.js',
  '/tessera_runtime_webgpu_bg.wasm', '/tessera_runtime_cpu.js', '/tessera_runtime_cpu_bg.wasm', '/ui/messages.js', '/ui/encode.js',
  '/ui/sample.js', '/icons/icon-192.png', '/icons/icon-512.png', '/destinations.json',
];

/** Files of the demo's sources that are not part of the app (same list as `xtask/src/demo.rs`). */
const NOT_SERVED = ['README.md', path.join('icons', 'make_icons.py')];

/** The demo's sources: `$TESSERA_DEMO_SRC` (to check the scenarios against a changed copy) or `demo-pwa/`. */
const DEMO_SRC = process.env.TESSERA_DEMO_SRC || path.join(REPO_ROOT, 'demo-pwa');
const RESULTS = path.join(REPO_ROOT, 'playwright', 'test-results');

/** Screenshots go here (git-ignored with the rest of `test-results/`). */
export const SCREENSHOTS = path.join(RESULTS, 'screenshots');

let modelsBuilt = null;

/**
 * What `models/make_models.py` reads: models built before any of these last changed are stale
 * (the summarizer's features and its known-answer sample come from them).
 */
export const DEMO_MODEL_INPUTS = [
  path.join('models', 'make_models.py'),
  path.join('models', 'destinations.txt'),
  path.join('demo-pwa', 'ui', 'sample.js'),
];

/** Whether the models in `dir` are all there and newer than every file in {@link DEMO_MODEL_INPUTS}. */
export function demoModelsCurrent(dir) {
  const wanted = ['travel.json', ...DEMO_MODELS.flatMap((m) => [`${m}.onnx`, `${m}.vectors.json`])];
  if (!wanted.every((f) => existsSync(path.join(dir, f)))) return false;
  // travel.json is written last.
  const built = statSync(path.join(dir, 'travel.json')).mtimeMs;
  return DEMO_MODEL_INPUTS.every((f) => statSync(path.join(REPO_ROOT, f)).mtimeMs <= built);
}

/**
 * Builds the demo models into {@link DEMO_MODELS_DIR} unless they are there and current (see
 * {@link demoModelsCurrent}); once per run.
 */
export function demoModels() {
  if (demoModelsCurrent(DEMO_MODELS_DIR)) return Promise.resolve(DEMO_MODELS_DIR);
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

/**
 * Packs demo models (`names`, default both) from the built `models` directory with a fresh dev
 * key, the way `cargo xtask demo` does: key in `dir/dev-key/`, signed packs (version 1.0.0, with
 * their test vectors) in `dir/artifacts/`. Resolves `{keyDir, privateKeyFile, publicKeyFile, artifacts}`.
 */
export async function packDemoModels(dir, models, names = DEMO_MODELS) {
  const keyDir = path.join(dir, 'dev-key');
  await tessera(['keygen', '--out', keyDir]);
  const privateKeyFile = path.join(keyDir, 'tessera.key');
  const artifacts = path.join(dir, 'artifacts');
  for (const model of names) await packDemoModel({ privateKeyFile, artifacts, models, model, version: '1.0.0' });
  return { keyDir, privateKeyFile, publicKeyFile: path.join(keyDir, 'tessera.pub.json'), artifacts };
}

/**
 * `tessera pack`s demo model `model` as `version` into `artifacts`, signed with
 * `privateKeyFile`, with its test vectors from `models`: `onnx` (default: the built model) as
 * `model.onnx`. `expires` is a CLI duration; `force` publishes a version that is not newer than
 * the published one (a rollback).
 */
export async function packDemoModel({
  privateKeyFile, artifacts, models, model, version,
  onnx = path.join(models, `${model}.onnx`), expires = '365d', force = false,
}) {
  await tessera([
    'pack', '--key', privateKeyFile,
    '--name', model, '--version', version, '--expires', expires,
    '--test-vectors', path.join(models, `${model}.vectors.json`),
    '--out', artifacts,
    ...(force ? ['--force'] : []),
    `model.onnx=${onnx}`,
  ]);
}

/** A running demo world; see {@link DemoEnv.open}. */
export class DemoEnv extends World {
  /**
   * Packs the demo models with a fresh dev key, assembles the app, serves it behind the proxy
   * and launches Chromium (with WebGPU unless `webgpu: false`). Opens no page.
   */
  static async open({ webgpu = true } = {}) {
    const env = new DemoEnv();
    try {
      env.models = await demoModels();
      env.dir = await mkdtemp(path.join(tmpdir(), 'tessera-demo-e2e-'));
      ({
        privateKeyFile: env.privateKeyFile,
        publicKeyFile: env.publicKeyFile,
        artifacts: env.artifacts,
      } = await packDemoModels(env.dir, env.models));
      env.appDir = await assembleApp(env.dir, env.models, await readFile(env.publicKeyFile, 'utf8'));
      env.requestLogFile = path.join(env.dir, 'edge-requests.jsonl');
      env.server = await startServer({
        artifacts: env.artifacts,
        app: env.appDir,
        trust: [env.publicKeyFile],
        requestLog: env.requestLogFile,
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

  /**
   * Publishes `model` as `version`, signed with the world's dev key (options of
   * {@link packDemoModel}: `onnx`, `expires`, `force`). Returns the published manifest.
   */
  async pack(model, version, options = {}) {
    const { privateKeyFile, artifacts, models } = this;
    await packDemoModel({ privateKeyFile, artifacts, models, model, version, ...options });
    return this.manifest(model);
  }

  /** Publishes `model` as `version` with a manifest that expires after 1 s, and waits until it has. */
  async packExpired(model, version, options = {}) {
    const manifest = await this.pack(model, version, { ...options, expires: '1s' });
    await waitPastExpiry(manifest);
    return manifest;
  }

  /** Breaks the signature of `model`'s published manifest (see fixtures.js `tamperSignature`). */
  tamperSignature(model) {
    return tamperSignature(path.join(this.artifacts, model, 'manifest.json'));
  }

  /** XORs one byte of the published shard `sha256` with 0xff; call again to undo. */
  flipShardByte(sha256, offset = 12345) {
    return flipFileByte(path.join(this.artifacts, '_shards', sha256), offset);
  }

  /**
   * Writes a copy of `model`'s ONNX file in which `count` float32 values of initializer
   * `tensor`, from byte `at` of the file on, are nudged by one unit in the last place: a new
   * version whose bytes differ only there and whose answers still pass its known-answer tests.
   * Returns the copy's path.
   */
  async nudgedModel(model, { tensor, at, count = 4096 }) {
    const bytes = await readFile(path.join(this.models, `${model}.onnx`));
    // TensorProto fields in order: name (field 8, tag 0x42) then raw_data (field 9, tag 0x4a).
    const name = Buffer.from(tensor);
    const head = bytes.indexOf(Buffer.concat([Buffer.from([0x42, name.length]), name, Buffer.from([0x4a])]));
    if (head < 0) throw new Error(`${model}.onnx has no initializer ${tensor} with raw data`);
    let start = head + name.length + 3;
    let length = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[start++];
      length += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    const first = start + Math.ceil(Math.max(0, at - start) / 4) * 4;
    if (first + 4 * count > start + length) throw new Error(`${tensor} ends before byte ${at} + ${count} floats`);
    // Little-endian float32: the first byte of each holds its lowest mantissa bits.
    for (let i = 0; i < count; i += 1) bytes[first + 4 * i] ^= 0x01;
    const file = path.join(this.dir, `${model}-nudged-${at}.onnx`);
    await writeFile(file, bytes);
    return file;
  }

  /**
   * The server's request log (`tessera serve --request-log`): one `{method, path, range, status,
   * bytes}` per finished request, `bytes` being the body bytes the server actually sent.
   */
  async requestLog() {
    const text = existsSync(this.requestLogFile) ? await readFile(this.requestLogFile, 'utf8') : '';
    return text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
  }

  /** Server log records of requests for shards of `manifest` (decoded), oldest first. */
  async shardRecords(manifest) {
    const wanted = new Set(shardsOf(manifest).map((s) => `/models/_shards/${s.sha256}`));
    return (await this.requestLog()).filter((r) => wanted.has(r.path));
  }

  /**
   * Fetches `/models/MODEL/FILE` from the page (through the service worker):
   * `{ status, bytes, sha256, version }`, `version` from `X-Tessera-Version`.
   */
  pageFile(model, file = 'model.onnx') {
    return settle(
      this.page.evaluate(async (url) => {
        const response = await fetch(url);
        const body = await response.arrayBuffer();
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', body));
        return {
          status: response.status,
          bytes: body.byteLength,
          sha256: [...digest].map((b) => b.toString(16).padStart(2, '0')).join(''),
          version: response.headers.get('x-tessera-version'),
        };
      }, `/models/${model}/${file}`),
      30_000,
      `fetch /models/${model}/${file}`,
    );
  }

  /**
   * Opens "Model details" under the model's status line (bytes, shards, version, storage,
   * "Check for updates", "Remove from device"), if it is closed.
   */
  async showModelDetails() {
    const details = this.page.locator('#dl-details');
    if (!(await details.evaluate((d) => d.open))) await details.locator('summary').click();
  }

  /** Clicks "Check for updates" (in the model details) and waits for its outcome under the status line. */
  async checkForUpdate({ timeoutMs = 40_000 } = {}) {
    await this.showModelDetails();
    await this.page.locator('#dl-check').click();
    await this.page.waitForFunction(
      () => !document.getElementById('dl-update').hidden && !document.getElementById('dl-check').disabled,
      null,
      { timeout: timeoutMs },
    );
  }

  /** Chooses `policy` for `model` in the "Where models run" settings dialog (opened and closed again). */
  async choosePolicy(model, policy) {
    const dialog = this.page.locator('#settings-dialog');
    if (!(await dialog.evaluate((d) => d.open))) await this.page.locator('#settings-open').click();
    await this.page.locator(`#policy-${model}`).selectOption(policy);
    await this.page.locator('#settings-close').click();
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
    // The click marks the answer area busy before it returns; a new answer (or error) clears it.
    await this.page.locator('#rec-run').click();
    await this.page.waitForFunction(
      () => document.getElementById('rec-out').getAttribute('aria-busy') === 'false' &&
        (!document.getElementById('rec-meta').hidden || !document.getElementById('rec-error').hidden),
      null,
      { timeout: timeoutMs },
    );
  }

  /** Clicks "Summarize" and waits for its answer (a brief or an error). */
  async summarize({ timeoutMs = 30_000 } = {}) {
    // The click marks the answer area busy before it returns; a new answer (or error) clears it.
    await this.page.locator('#sum-run').click();
    await this.page.waitForFunction(
      () => document.getElementById('sum-out').getAttribute('aria-busy') === 'false' &&
        (!document.getElementById('sum-meta').hidden || !document.getElementById('sum-error').hidden),
      null,
      { timeout: timeoutMs },
    );
  }

  /**
   * Sets the preference form as a person would (clicks the pills, picks from selects, moves the
   * slider): `values` maps a field name (`budget`, `days`, `interests`, `home`…) to an option
   * value (`''` = "Any") or, for checkbox groups, the array of values to tick (others unticked).
   */
  async fillPreferences(values) {
    const page = this.page;
    for (const [name, value] of Object.entries(values)) {
      const inputs = page.locator(`#prefs [name="${name}"]`);
      const kind = await inputs.first().evaluate((i) => (i.tagName === 'SELECT' ? 'select' : i.type));
      if (kind === 'select') {
        await inputs.selectOption(String(value));
      } else if (kind === 'range') {
        await inputs.fill(String(value));
      } else if (kind === 'radio') {
        await page.locator('#prefs label', { has: page.locator(`input[name="${name}"][value="${value}"]`) }).click();
      } else if (kind === 'checkbox') {
        for (const box of await inputs.all()) {
          const option = await box.getAttribute('value');
          if (value.includes(option) === (await box.isChecked())) continue;
          await page.locator('#prefs label', { has: page.locator(`input[name="${name}"][value="${option}"]`) }).click();
        }
      } else {
        throw new Error(`fillPreferences: no field ${name} (${kind})`);
      }
    }
  }

  /** The preference form as shown: field name → value (`''` = "Any"; arrays for checkbox groups). */
  formValues() {
    return this.page.evaluate(() => {
      const form = document.getElementById('prefs');
      const values = {};
      for (const input of form.elements) {
        if (!input.name) continue;
        if (input.type === 'checkbox') values[input.name] ??= [];
        if (input.type === 'checkbox' || input.type === 'radio') {
          if (input.checked && input.type === 'checkbox') values[input.name].push(input.value);
          else if (input.checked) values[input.name] = input.value;
        } else {
          values[input.name] = input.value;
        }
      }
      return values;
    });
  }

  /** The ranked destinations shown: `[{ name, match }]`, `match` being the line under each ("Great match · 80/100"). */
  shownDestinations() {
    return this.page.locator('#rec-list li.dest').evaluateAll((items) => items.map((li) => ({
      name: li.querySelector('h3').firstChild.textContent.trim(),
      match: li.querySelector('.dest-match')?.textContent.trim() ?? '',
    })));
  }

  /**
   * Cuts (or restores) the network for the browser, page and worker alike. Playwright's
   * `setOffline` cuts the network for a reloaded page and its worker, but the new document starts
   * with `navigator.onLine === true`; applying the same emulation on the page's session again
   * makes Chromium report offline (and fire `offline`), as a real disconnect does. Call it again
   * after each reload while offline.
   */
  async setOffline(offline = true) {
    await this.browser.setOffline(offline);
    await this.cdp('Network.enable');
    await this.cdp('Network.emulateNetworkConditions', {
      offline,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });
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
    // Two frames after the resize, so the page (the textarea's text included) is laid out anew.
    await this.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const file = path.join(SCREENSHOTS, `${name}.png`);
    await this.page.screenshot({ path: file, fullPage: true });
    return file;
  }
}

/** The app directory: demo-pwa (less its README and icon script) + web build + travel.json + tessera.config.json + trusted-keys.json. */
async function assembleApp(dir, models, publicKey) {
  const app = path.join(dir, 'app');
  await cp(DEMO_SRC, app, { recursive: true, filter: (src) => !NOT_SERVED.includes(path.relative(DEMO_SRC, src)) });
  const missing = [...WEB_FILES, 'tessera-runtime.js', 'tessera_runtime_bg.wasm', 'tessera_runtime_webgpu_bg.wasm', 'tessera_runtime_cpu_bg.wasm'].filter(
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
