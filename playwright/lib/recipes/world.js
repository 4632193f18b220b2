// The recipes' world (docs/recipes.md): the tiny text classifier written by
// models/make_tiny_classifier.py, packed with the real `tessera pack` under a throwaway key, an app
// directory (one recipe page from this folder + the web build + the library's files copied from
// node_modules + a generated tessera.config.json), `tessera serve` behind the fault-injecting
// proxy and a fresh Chromium on the proxy's origin. `recipeScenario()` wraps `worldScenario()`;
// the scenarios decide what to assert. Helpers here check the two promises every recipe makes:
// model bytes only ever come through the service worker, and no library keeps a second copy.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { launchBrowser } from '../browser.js';
import { REPO_ROOT, tessera } from '../fixtures.js';
import { settle, WEB_DIR, WEB_FILES, World, worldScenario } from '../scenario.js';
import { startProxy, startServer } from '../server.js';

const run = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Shard size of the recipe packs: the smallest `tessera pack` accepts, so each file has several. */
export const RECIPE_SHARD_SIZE = '1KiB';

/** The tessera files every recipe app serves (the web build). */
export const TESSERA_SHELL = ['/tessera-client.js'];

/** Writes the tiny classifier into `out` with models/make_tiny_classifier.py; resolves its known answers. */
export async function makeTinyClassifier(out) {
  try {
    await run('python3', [path.join(REPO_ROOT, 'models', 'make_tiny_classifier.py'), '--out', out], {
      timeout: 60_000,
    });
  } catch (err) {
    throw new Error(`models/make_tiny_classifier.py failed (needs numpy + onnx): ${err.stderr || err.message}`);
  }
  return JSON.parse(await readFile(path.join(out, 'known-answer.json'), 'utf8'));
}

/** Largest absolute difference between two number lists of equal length. */
export function maxDiff(got, want) {
  assert.equal(got.length, want.length, `length ${got.length} != ${want.length}`);
  return Math.max(...want.map((w, i) => Math.abs(got[i] - w)));
}

/**
 * A recipe world. `open()` options:
 * - `page`: the recipe page folder under playwright/lib/recipes/ (copied to the app root);
 * - `models`: `[{ name, files: { LOGICAL: 'path under the classifier folder' }, entry? }]`;
 * - `copy`: `[[from (repo-relative or absolute), to (app-relative)]]` library files to serve;
 * - `config`: tessera.config.json overrides (`appShell` above all);
 * - `prepareApp(appDir)`: last changes to the app directory (e.g. a service worker of its own).
 */
export class RecipeEnv extends World {
  static async open({ page, models = [], copy = [], config = {}, prepareApp = null } = {}) {
    const env = new RecipeEnv();
    try {
      env.dir = await mkdtemp(path.join(tmpdir(), 'tessera-recipe-'));
      env.src = path.join(env.dir, 'tiny-classifier');
      env.known = await makeTinyClassifier(env.src);
      const keyDir = path.join(env.dir, 'key');
      await tessera(['keygen', '--out', keyDir]);
      env.key = JSON.parse(await readFile(path.join(keyDir, 'tessera.pub.json'), 'utf8'));
      env.artifacts = path.join(env.dir, 'artifacts');
      env.models = models;
      for (const model of models) {
        const args = [
          'pack', '--key', path.join(keyDir, 'tessera.key'), '--name', model.name, '--version', '1.0.0',
          '--shard-size', RECIPE_SHARD_SIZE, '--out', env.artifacts,
        ];
        if (model.entry) args.push('--entry', model.entry);
        for (const [logical, rel] of Object.entries(model.files)) args.push(`${logical}=${path.join(env.src, rel)}`);
        await tessera(args);
      }
      env.appDir = path.join(env.dir, 'app');
      await mkdir(env.appDir, { recursive: true });
      await cp(path.join(HERE, page), env.appDir, { recursive: true });
      const missing = WEB_FILES.filter((f) => !existsSync(path.join(WEB_DIR, f)));
      if (missing.length) throw new Error(`web build incomplete: ${missing.join(', ')} missing in ${WEB_DIR} (run \`cargo xtask build-web\`)`);
      for (const entry of await readdir(WEB_DIR, { withFileTypes: true })) {
        if (entry.isFile()) await cp(path.join(WEB_DIR, entry.name), path.join(env.appDir, entry.name));
      }
      for (const [from, to] of copy) {
        const source = path.isAbsolute(from) ? from : path.join(REPO_ROOT, from);
        if (!existsSync(source)) throw new Error(`${source} missing: run npm ci (package-lock.json pins the recipe libraries)`);
        await mkdir(path.dirname(path.join(env.appDir, to)), { recursive: true });
        await cp(source, path.join(env.appDir, to), { recursive: true });
      }
      env.config = {
        prefix: '/models/',
        artifactsBase: '/models/',
        trustedKeys: [env.key],
        threshold: 1,
        concurrency: 4,
        chunkSize: 65536,
        appShell: ['/', '/index.html', '/app.js', ...TESSERA_SHELL],
        tokenUrl: null,
        ...config,
      };
      await writeFile(path.join(env.appDir, 'tessera.config.json'), JSON.stringify(env.config, null, 2));
      if (prepareApp) await prepareApp(env.appDir, env);
      env.server = await startServer({
        artifacts: env.artifacts,
        app: env.appDir,
        requestLog: path.join(env.dir, 'edge-requests.jsonl'),
      });
      env.proxy = await startProxy(env.server.url);
      env.origin = env.proxy.url;
      env.browser = await launchBrowser();
      env.page = env.browser.page;
      await env.load();
    } catch (err) {
      env.pendingError = err;
    }
    return env;
  }

  /** Navigates to (or reloads) the recipe page and waits until its worker registration settled and controls it. */
  async load({ reload = false } = {}) {
    if (reload) await this.page.reload({ waitUntil: 'load' });
    else await this.page.goto(`${this.origin}/`, { waitUntil: 'load' });
    await this.page.waitForFunction(() => window.recipe?.registered, null, { timeout: 30_000 });
    const registered = await this.page.evaluate(() => window.recipe.registered);
    assert.ok(registered.ok, `service worker registration failed: ${JSON.stringify(registered.error)}`);
    assert.ok(registered.controlled, 'registration resolved but the page is not controlled');
    return registered;
  }

  /** `window.recipe[fn](arg)` in the page; rejects if it does not settle within `timeoutMs`. */
  call(fn, arg, { timeoutMs = 30_000 } = {}) {
    return settle(this.page.evaluate(([f, a]) => window.recipe[f](a), [fn, arg]), timeoutMs, `recipe.${fn}()`);
  }

  /** Proxy log entries for model files (`/models/NAME/…` other than the manifest and its versions). */
  modelFileRequests() {
    return this.proxy.requests('/models/').filter((e) => {
      const rest = e.path.split('?')[0].slice('/models/'.length);
      if (rest.startsWith('_shards/')) return false;
      const file = rest.slice(rest.indexOf('/') + 1);
      return file !== 'manifest.json' && !file.startsWith('versions/');
    });
  }

  /** Asserts every model byte came through the worker: no model file request reached the network. */
  assertModelBytesOnlyThroughWorker() {
    assert.deepEqual(
      this.modelFileRequests().map((e) => `${e.method} ${e.path}`),
      [],
      'model files must be answered by the service worker from verified storage, never fetched from the network',
    );
    for (const model of this.models) {
      assert.ok(this.proxy.requests(`/models/${model.name}/manifest.json`).length >= 1, `${model.name}: manifest fetched by the worker`);
    }
    assert.ok(this.proxy.requests('/models/_shards/').length >= 1, 'shards fetched by the worker');
  }

  /**
   * What the origin keeps: `{ usage, caches: { NAME: [{ url, bytes }] } }` (`navigator.storage.estimate()`
   * and every Cache Storage entry with its body size).
   */
  storage() {
    return this.page.evaluate(async () => {
      const out = { usage: (await navigator.storage.estimate()).usage, caches: {} };
      for (const name of await caches.keys()) {
        const cache = await caches.open(name);
        out.caches[name] = [];
        for (const request of await cache.keys()) {
          const response = await cache.match(request);
          out.caches[name].push({ url: new URL(request.url).pathname, bytes: (await response.arrayBuffer()).byteLength });
        }
      }
      return out;
    });
  }

  /**
   * Asserts no Cache Storage entry holds a model file (a second copy beside tessera's verified
   * store) and that the only caches are `allowed`. Returns the storage report.
   */
  async assertNoSecondCopy({ allowed = ['tessera-v1'] } = {}) {
    const storage = await this.storage();
    assert.deepEqual(Object.keys(storage.caches).sort(), [...allowed].sort(), `caches: ${JSON.stringify(Object.keys(storage.caches))}`);
    const copies = Object.entries(storage.caches).flatMap(([name, entries]) =>
      entries.filter((e) => e.url.startsWith('/models/')).map((e) => `${name}: ${e.url} (${e.bytes} B)`),
    );
    assert.deepEqual(copies, [], 'model files must not be kept a second time in Cache Storage');
    return storage;
  }

  /** Goes offline (page and worker), then reloads the page from the worker's app shell. */
  async reloadOffline({ stopWorker = false } = {}) {
    await this.browser.setOffline(true);
    if (stopWorker) await this.browser.stopAllWorkers();
    return this.load({ reload: true });
  }

  /**
   * Proxy log entries made since `since` (a log length) other than the browser's update check of
   * the worker script and its static imports (which Chromium makes even offline).
   */
  requestsSince(since, workerScripts = ['/sw.js', '/tessera-sw-lib.js', '/tessera_sw.js']) {
    return this.proxy.log.slice(since).filter((e) => !workerScripts.includes(e.path.split('?')[0]));
  }
}

/** Defines a recipe scenario (a `node:test` test) over a fresh {@link RecipeEnv}. */
export function recipeScenario(name, body, options) {
  worldScenario((o) => RecipeEnv.open(o), name, body, options);
}
