// One end-to-end scenario's world: a fixture model, `tessera serve` behind the fault-injecting
// proxy, an app directory (test page + built web files + generated tessera.config.json) and a
// fresh Chromium on the proxy's origin. `scenario()` wraps `node:test`'s `test()` so every
// failure carries the page's and service worker's console, the proxy log and the server's stderr.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { launchBrowser } from './browser.js';
import { createFixture, REPO_ROOT, SHARD_SIZE, sha256Hex, uniqueShardBytes } from './fixtures.js';
import { startProxy, startServer } from './server.js';

/** The built web files (`sw.js`, wasm, client): `$TESSERA_WEB_DIR` or `target/web/`. */
export const WEB_DIR = process.env.TESSERA_WEB_DIR || path.join(REPO_ROOT, 'target', 'web');

/** Files a PWA copies from the web build; the scenarios need all of them. */
export const WEB_FILES = ['sw.js', 'tessera_sw.js', 'tessera_sw_bg.wasm', 'tessera-client.js'];

/** `chunkSize` of the generated config: 256 KiB, a quarter shard, so resume is finer than a shard. */
export const CHUNK_SIZE = 256 * 1024;

const APP_SRC = path.join(path.dirname(fileURLToPath(import.meta.url)), 'app');
const RESULTS = path.join(REPO_ROOT, 'playwright', 'test-results');

/**
 * The shard store the scenarios ask for: `$TESSERA_TEST_STORAGE` (`opfs` or `indexeddb`, the
 * fallback), else the worker's default (`auto`: OPFS in Chromium).
 */
export const TEST_STORAGE = process.env.TESSERA_TEST_STORAGE || 'auto';

/** The store the worker is expected to report in its statuses. */
export const EXPECTED_STORAGE = TEST_STORAGE === 'auto' ? 'opfs' : TEST_STORAGE;

/** Default `tessera.config.json` for a fixture (overrides merged on top). */
export async function makeConfig(fixture, overrides = {}) {
  return {
    prefix: '/models/',
    artifactsBase: '/models/',
    trustedKeys: [await fixture.trustedKey()],
    threshold: 1,
    concurrency: 4,
    chunkSize: CHUNK_SIZE,
    appShell: ['/', '/index.html', '/app.js', '/style.css', '/tessera-client.js'],
    tokenUrl: null,
    ...(TEST_STORAGE === 'auto' ? {} : { storage: TEST_STORAGE }),
    ...overrides,
  };
}

/**
 * Builds the app directory `tessera serve --app` serves: the test page, the web build (unless
 * `web: false`, for harness checks without a service worker) and `tessera.config.json`.
 */
export async function buildAppDir(fixture, { config = {}, web = true } = {}) {
  const dir = path.join(fixture.dir, 'app');
  await mkdir(dir, { recursive: true });
  await cp(APP_SRC, dir, { recursive: true });
  if (web) {
    const missing = WEB_FILES.filter((f) => !existsSync(path.join(WEB_DIR, f)));
    if (missing.length) {
      throw new Error(
        `web build incomplete: ${missing.join(', ')} missing in ${WEB_DIR} ` +
          '(run `cargo xtask build-web`, or set TESSERA_WEB_DIR)',
      );
    }
    for (const entry of await readdir(WEB_DIR, { withFileTypes: true })) {
      if (entry.isFile()) await cp(path.join(WEB_DIR, entry.name), path.join(dir, entry.name));
    }
  }
  await writeFile(path.join(dir, 'tessera.config.json'), JSON.stringify(await makeConfig(fixture, config), null, 2));
  return dir;
}

/** A running scenario world; see {@link Env.open}. */
/**
 * What every scenario world holds — a `tessera serve` (`server`), the fault proxy in front of it
 * (`proxy`) and a Chromium (`browser`) — and how it reports a failure and shuts down. Worlds
 * (`Env`, `DemoEnv`, `RuntimeEnv`) open themselves and add their own helpers.
 */
export class World {
  /** Everything useful for a failure: console, proxy log, server stderr. */
  report() {
    return [
      '--- browser console (page and its workers) ---',
      ...(this.browser?.logs ?? []),
      '--- proxy log ---',
      this.proxy?.format() ?? '(no proxy)',
      '--- tessera serve stderr ---',
      this.server?.stderr() ?? '(no server)',
    ].join('\n');
  }

  /** Stops the browser, proxy and server, then {@link World#dispose}s the world's files. */
  async close() {
    await this.browser?.close();
    await this.proxy?.close();
    await this.server?.stop();
    await this.dispose();
  }

  /** Removes the world's temporary directory `dir` (kept when `TESSERA_E2E_KEEP` is set). */
  async dispose() {
    if (this.dir && !process.env.TESSERA_E2E_KEEP) await rm(this.dir, { recursive: true, force: true });
  }
}

export class Env extends World {
  /**
   * Creates the fixture, serves it behind the proxy, launches the browser and (unless
   * `goto: false`) opens the test page and waits until tessera registered and controls it.
   */
  static async open({ fixture: fixtureOptions = {}, config = {}, web = true, goto = true } = {}) {
    const env = new Env();
    try {
      env.fixture = await createFixture(fixtureOptions);
      env.appDir = await buildAppDir(env.fixture, { config, web });
      env.server = await startServer({
        artifacts: env.fixture.artifacts,
        app: env.appDir,
        requestLog: path.join(env.fixture.dir, 'edge-requests.jsonl'),
      });
      env.proxy = await startProxy(env.server.url);
      env.origin = env.proxy.url;
      env.browser = await launchBrowser();
      env.page = env.browser.page;
      if (goto) await env.load();
    } catch (err) {
      env.pendingError = err;
    }
    return env;
  }

  /** Model name of the fixture. */
  get model() {
    return this.fixture.name;
  }

  /** Navigates (or reloads) the test page and waits for `Tessera.register` to settle. */
  async load({ reload = false } = {}) {
    if (reload) await this.page.reload({ waitUntil: 'load' });
    else await this.page.goto(`${this.origin}/`, { waitUntil: 'load' });
    await this.page.waitForFunction(() => window.harness?.registered, null, { timeout: 30_000 });
    const registered = await this.page.evaluate(() => window.harness.registered);
    assert.ok(registered.ok, `Tessera.register failed: ${JSON.stringify(registered.error)}`);
    assert.ok(registered.controlled, 'Tessera.register resolved but the page is not controlled');
    return registered;
  }

  /** `harness.ensure(model)`: `{ ok, status?, error?, progress }`; rejects if it does not settle in time. */
  ensure(model = this.model, { timeoutMs = 30_000 } = {}) {
    return settle(this.page.evaluate((m) => window.harness.ensure(m), model), timeoutMs, `ensureModel('${model}')`);
  }

  /** `harness.checkUpdate(model)`; rejects if it does not settle in time. */
  checkUpdate(model = this.model, { timeoutMs = 30_000 } = {}) {
    return settle(this.page.evaluate((m) => window.harness.checkUpdate(m), model), timeoutMs, `checkUpdate('${model}')`);
  }

  /** `harness.status(model)`; rejects if it does not settle in time. */
  status(model = this.model, { timeoutMs = 10_000 } = {}) {
    return settle(this.page.evaluate((m) => window.harness.status(m), model), timeoutMs, `status('${model}')`);
  }

  /**
   * Fetches `urlPath` from the page (`{ method, range }`) and returns `harness.fetchInfo`'s
   * description plus `fromServiceWorker` as Playwright saw the response (null if none was seen).
   */
  async fetch(urlPath, { method = 'GET', range = null, timeoutMs = 30_000 } = {}) {
    const url = new URL(urlPath, this.origin).href;
    const seen = this.page
      .waitForResponse(
        (r) =>
          r.url() === url &&
          r.request().method() === method &&
          (r.request().headers().range ?? null) === range,
        { timeout: 45_000 },
      )
      .catch(() => null);
    const info = await settle(
      this.page.evaluate(([u, o]) => window.harness.fetchInfo(u, o), [url, { method, range }]),
      timeoutMs,
      `${method} ${urlPath}${range ? ` (Range ${range})` : ''}`,
    );
    let timer;
    const response = info.networkError
      ? null
      : await Promise.race([seen, new Promise((r) => (timer = setTimeout(() => r(null), 3000)))]);
    clearTimeout(timer);
    info.fromServiceWorker = response ? response.fromServiceWorker() : null;
    return info;
  }

  /** Fetches model file `file` of the fixture model. */
  fetchModelFile(file, options) {
    return this.fetch(`/models/${this.model}/${file}`, options);
  }

  /** Removes the fixture's temporary files. */
  async dispose() {
    await this.fixture?.dispose();
  }
}

/**
 * Defines a `node:test` test running `body(env, t)` in a fresh world made by `open(options)`
 * (an {@link Env}, or the demo's `DemoEnv`: anything with `pendingError`, `report()` and
 * `close()`). The world is closed afterwards; on failure the error message gets the end of the
 * report and the whole report is written to `playwright/test-results/<name>.log`. The test's own
 * timeout is the scenario's plus `grace` ms for setting up and closing the world.
 */
export function worldScenario(open, name, body, { timeout = 60_000, grace = 15_000, ...options } = {}) {
  const file = path.join(RESULTS, `${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.log`);
  test(name, { timeout: timeout + grace }, async (t) => {
    await rm(file, { force: true });
    const env = await open(options);
    let timer;
    try {
      if (env.pendingError) throw env.pendingError;
      await Promise.race([
        body(env, t),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`scenario took longer than ${timeout} ms`)), timeout);
        }),
      ]);
    } catch (err) {
      const report = env.report();
      await mkdir(RESULTS, { recursive: true });
      await writeFile(file, `${err.stack ?? err}\n\n${report}\n`);
      const tail = report.split('\n').slice(-120).join('\n');
      if (err instanceof Error) {
        err.message += `\n(full report: ${path.relative(REPO_ROOT, file)})\n${tail}`;
      }
      throw err;
    } finally {
      clearTimeout(timer);
      await env.close();
    }
  });
}

/** {@link worldScenario} over the service-worker test page ({@link Env}). */
export function scenario(name, body, options) {
  worldScenario((o) => Env.open(o), name, body, options);
}

/** Asserts a fetch answered exactly `bytes` with 200, from the service worker. */
export function assertServedExactly(info, bytes, what) {
  assert.equal(info.networkError, undefined, `${what}: fetch failed: ${JSON.stringify(info.networkError)}`);
  assert.equal(info.status, 200, `${what}: status ${info.status}, body ${JSON.stringify(info.json)}`);
  assert.equal(info.length, bytes.length, `${what}: length`);
  assert.equal(info.sha256, sha256Hex(bytes), `${what}: sha256 differs from the published file`);
  assert.equal(info.fromServiceWorker, true, `${what}: not answered by the service worker`);
}

/** Asserts the service worker never passed a model file request through to the network. */
export function assertNoModelFileFetched(env) {
  const leaked = env.proxy.requests(`/models/${env.model}/`).filter((e) => {
    const rest = e.path.slice(`/models/${env.model}/`.length);
    return rest !== 'manifest.json' && !rest.startsWith('versions/');
  });
  assert.deepEqual(
    leaked.map((e) => `${e.method} ${e.path}`),
    [],
    'model files must be answered from verified storage, never fetched from the network',
  );
}

/** Shard requests in the proxy log (`/models/_shards/…`). */
export function shardRequests(env) {
  return env.proxy.requests('/models/_shards/');
}

/**
 * Asserts that each shard of `shards` ({sha256, size}) crossed the network exactly once: its
 * requests (several Range requests of at most one chunk each) tile it from byte 0 to its end,
 * with no range asked twice, and no other shard was fetched.
 */
export function assertShardsFetchedOnce(env, shards, what = 'shards') {
  const sizes = new Map(shards.map((s) => [s.sha256, s.size]));
  const parts = new Map();
  for (const e of shardRequests(env)) {
    const sha = shardOf(e);
    assert.ok(sizes.has(sha), `${what}: shard ${sha} was fetched but not expected`);
    if (!parts.has(sha)) parts.set(sha, []);
    parts.get(sha).push({ start: e.range ? rangeStart(e.range) : 0, bytes: e.bytes ?? 0, range: e.range });
  }
  for (const [sha, size] of sizes) {
    const list = (parts.get(sha) ?? []).sort((a, b) => a.start - b.start);
    let pos = 0;
    for (const p of list) {
      assert.equal(p.start, pos, `${what}: shard ${sha} requested at ${p.range ?? 'bytes=0-'} with ${pos} bytes already received: ${JSON.stringify(list)}`);
      pos += p.bytes;
    }
    assert.equal(pos, size, `${what}: shard ${sha} received ${pos} of its ${size} bytes: ${JSON.stringify(list)}`);
  }
}

/** The shard digest a proxy log entry asked for. */
export function shardOf(entry) {
  return entry.path.split('/').pop().split('?')[0];
}

/** Start offset of a `bytes=N-…` Range header (0 without one). */
export function rangeStart(range) {
  const m = /^bytes=(\d+)-/.exec(range ?? '');
  return m ? Number(m[1]) : 0;
}

/** Resolves `value` after `ms`. */
export function sleepValue(ms, value) {
  return new Promise((r) => setTimeout(() => r(value), ms));
}

/** A proxy path predicate: requests for the full-size (1 MiB) shards of `weights.bin` in `manifest`. */
export function fullWeightShards(manifest) {
  const weights = manifest.files.find((f) => f.path === 'weights.bin');
  const wanted = new Set(weights.shards.filter((s) => s.size === SHARD_SIZE).map((s) => s.sha256));
  return (entry) => entry.path.startsWith('/models/_shards/') && wanted.has(shardOf(entry));
}

/** Bytes a full download of `manifest` fetches: its unique shards (what `bytesTotal` counts). */
export function totalBytes(manifest) {
  return uniqueShardBytes(manifest);
}

/**
 * `Tessera[method](...args)` called in `env`'s page through `tessera-client.js`: `{ ok, value }`,
 * or `{ ok: false, error: { code, message, details } }` with the TesseraError's fields.
 */
export function callClient(env, method, ...args) {
  return env.page.evaluate(async ([m, a]) => {
    const { Tessera } = await import('/tessera-client.js');
    try {
      return { ok: true, value: await Tessera[m](...a) };
    } catch (e) {
      return { ok: false, error: { code: e?.code ?? null, message: String(e?.message ?? e), details: e?.details ?? null } };
    }
  }, [method, args]);
}

/** Polls `fn()` (async) until it returns a truthy value; rejects after `timeoutMs`. */
export async function until(fn, { timeoutMs = 20_000, what = 'condition', everyMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleepValue(everyMs);
  }
}

/** `promise`, or a rejection naming `what` when it has not settled after `ms`. */
export function settle(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Where a stalled shard download stops: 100 000 bytes into the third Range request of a shard
 * (each asks for one chunk), so 2 chunks are stored per stalled shard.
 */
export const STALL_AT = 2 * CHUNK_SIZE + 100_000;

/** A proxy path predicate: the request of a full weight shard that starts at byte `offset`. */
export function weightShardRequestAt(manifest, offset) {
  const full = fullWeightShards(manifest);
  return (entry) => full(entry) && Boolean(entry.range) && rangeStart(entry.range) === offset;
}

/**
 * Starts `ensureModel` in the page with the full weight shards stalling after {@link STALL_AT}
 * bytes, waits until 2 chunks are stored, then stops the service worker (CDP) and releases the
 * stalls as cuts. Resolves `{ manifest, before, interrupted }`: the shard requests made before
 * the stop and the digests of the shards it interrupted.
 */
export async function stopMidDownload(env) {
  const manifest = await env.fixture.manifest('1.0.0');
  env.proxy.addFault({
    path: weightShardRequestAt(manifest, 2 * CHUNK_SIZE),
    stallAfter: STALL_AT - 2 * CHUNK_SIZE,
    times: 4,
  });
  await env.page.evaluate((m) => window.harness.startEnsure(m), env.model);
  await env.proxy.waitFor((p) => p.log.some((e) => e.stalled), { what: 'a stalled shard download' });
  // Let the worker persist what it received (2 chunks per stalled shard) before stopping it.
  await until(async () => (await env.status()).status?.bytesDone >= 2 * CHUNK_SIZE, {
    what: 'a status with 2 chunks stored before the stop',
  });
  await new Promise((r) => setTimeout(r, 500));
  await env.browser.stopAllWorkers();
  env.proxy.clearFaults();
  env.proxy.releaseStalls('cut');
  const before = shardRequests(env);
  return { manifest, before, interrupted: new Set(before.filter((e) => e.stalled).map(shardOf)) };
}
