// The bench's worlds: a fixture model built with the real CLI, a release `tessera serve` per
// contender (each its own 127.0.0.1 port, hence its own origin) and a fresh Chromium profile per
// contender, so caches never mix. Contenders: tessera (the drop-in SW over the e2e test page),
// Workbox 7 (CacheFirst + range requests, from npm) and no service worker at all (the plain HTTP
// cache). Reuses playwright/lib (fixtures, app dir, server, browser); measures nothing itself.

import { existsSync } from 'node:fs';
import { cp, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchBrowser } from '../../playwright/lib/browser.js';
import { createFixture, readManifest, REPO_ROOT, tessera } from '../../playwright/lib/fixtures.js';
import { buildAppDir, settle } from '../../playwright/lib/scenario.js';
import { startServer } from '../../playwright/lib/server.js';

const BENCH_APP = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'app');

/** The Workbox 7 modules the Workbox contender's service worker imports (prod builds). */
export const WORKBOX_MODULES = ['core', 'routing', 'strategies', 'cacheable-response', 'range-requests'];

/** Largest shard `tessera pack` accepts: the HTTP-cache contender's immutable shards. */
export const HTTP_SHARD_SIZE = 64 * 1024 * 1024;

/**
 * Chromium switches for every contender: an HTTP disk cache big enough to hold a 64 MiB entry
 * (Chromium caps one entry at 1/8 of the cache size).
 */
export const BENCH_BROWSER_ARGS = ['--disk-cache-size=4294967296'];

/**
 * A fixture model `name` whose `weights.bin` has `size` pseudo-random bytes, packed as 1.0.0 in
 * 1 MiB shards (see playwright/lib/fixtures.js).
 * @param {{name: string, size: number}} options
 */
export function benchFixture({ name, size }) {
  return createFixture({ name, weightsSize: size });
}

/**
 * Publishes the same `weights.bin` bytes a second time as model `<name>-http` in 64 MiB shards
 * (immutable, `max-age=31536000` on `/models/_shards/…`): what the HTTP-cache contender reads.
 * Returns that manifest's shard list in file order: `[{ sha256, size, offset }]`.
 */
export async function packForHttpCache(fixture) {
  const input = path.join(fixture.inputs, '1.0.0', 'weights.bin');
  const name = `${fixture.name}-http`;
  await tessera([
    'pack', '--key', path.join(fixture.keys.trusted, 'tessera.key'), '--name', name, '--version', '1.0.0',
    '--shard-size', String(HTTP_SHARD_SIZE), '--out', fixture.artifacts, `weights.bin=${input}`,
  ]);
  const manifest = await readManifest(path.join(fixture.artifacts, name, 'manifest.json'));
  let offset = 0;
  return manifest.files[0].shards.map((s) => {
    const shard = { sha256: s.sha256, size: s.size, offset };
    offset += s.size;
    return shard;
  });
}

/** One contender: its server (own port = own origin), its browser (own profile) and page. */
export class Contender {
  /** Use {@link openContender}. */
  constructor(kind, label) {
    this.kind = kind;
    this.label = label;
    this.server = null;
    this.browser = null;
    this.page = null;
  }

  /** The contender's origin, e.g. `http://127.0.0.1:40123`. */
  get origin() {
    return this.server.url;
  }

  /** Navigates to the contender's page and waits until its service worker (if any) controls it. */
  async load() {
    await this.page.goto(`${this.origin}/`, { waitUntil: 'load' });
    if (this.kind === 'tessera') {
      await this.page.waitForFunction(() => window.harness?.registered, null, { timeout: 30_000 });
      const r = await this.page.evaluate(() => window.harness.registered);
      if (!r.ok || !r.controlled) throw new Error(`tessera did not register: ${JSON.stringify(r)}`);
    } else if (this.kind === 'workbox') {
      await this.page.waitForFunction(() => window.bench?.registered, null, { timeout: 30_000 });
      const r = await this.page.evaluate(() => window.bench.registered);
      if (!r.ok || !r.controlled) throw new Error(`Workbox did not register: ${JSON.stringify(r)}`);
    }
  }

  /** tessera only: `Tessera.ensureModel(model)`; throws with the error code on failure. */
  async ensure(model, { timeoutMs = 600_000 } = {}) {
    const r = await settle(this.page.evaluate((m) => window.harness.ensure(m), model), timeoutMs, `ensureModel('${model}')`);
    if (!r.ok) throw new Error(`ensureModel('${model}') failed: ${JSON.stringify(r.error)}`);
    return r.status;
  }

  /** Stops the browser and the server. */
  async close() {
    await this.browser?.close();
    await this.server?.stop();
  }
}

/** Labels used in tables. */
export const LABELS = {
  tessera: 'tessera SW',
  workbox: 'Workbox 7 SW',
  plain: 'HTTP cache (no SW)',
};

/**
 * Starts contender `kind` ('tessera' | 'workbox' | 'plain') over `fixture`'s artifacts: builds
 * its app directory, starts a release `tessera serve` on a free port (with `--request-log` at
 * `<fixture dir>/<kind>-requests.jsonl`), launches a fresh Chromium and loads the page.
 * `config` overrides the tessera contender's `tessera.config.json`.
 * @returns {Promise<Contender>}
 */
export async function openContender(kind, fixture, { config = {}, browserArgs = [] } = {}) {
  const c = new Contender(kind, LABELS[kind]);
  try {
    const app = await appDir(kind, fixture, config);
    c.requestLog = path.join(fixture.dir, `${kind}-requests.jsonl`);
    c.server = await startServer({ artifacts: fixture.artifacts, app, requestLog: c.requestLog });
    c.browser = await launchBrowser({ args: [...BENCH_BROWSER_ARGS, ...browserArgs] });
    c.page = c.browser.page;
    await c.load();
    return c;
  } catch (err) {
    await c.close();
    const logs = c.browser?.logs?.slice(-20).join('\n') ?? '';
    throw new Error(`cannot open the ${kind} contender: ${err.message}${logs ? `\n${logs}` : ''}`);
  }
}

async function appDir(kind, fixture, config) {
  if (kind === 'tessera') return buildAppDir(fixture, { config });
  const dir = path.join(fixture.dir, `app-${kind}`);
  await mkdir(dir, { recursive: true });
  await cp(path.join(BENCH_APP, kind), dir, { recursive: true });
  if (kind === 'workbox') {
    for (const m of WORKBOX_MODULES) {
      const file = path.join(REPO_ROOT, 'node_modules', `workbox-${m}`, 'build', `workbox-${m}.prod.js`);
      if (!existsSync(file)) throw new Error(`${file} missing: run npm ci (package-lock.json pins workbox 7)`);
      await cp(file, path.join(dir, `workbox-${m}.prod.js`));
    }
  }
  return dir;
}

/** Opens several contenders over one fixture; closes the ones already open if one fails. */
export async function openContenders(kinds, fixture, options) {
  const open = [];
  try {
    for (const kind of kinds) open.push(await openContender(kind, fixture, options));
    return open;
  } catch (err) {
    await Promise.all(open.map((c) => c.close()));
    throw err;
  }
}

/** The Chromium version string (`Browser.getVersion`), e.g. `Chrome/142.0.0.0`. */
export async function chromiumVersion() {
  const b = await launchBrowser();
  try {
    return (await b.cdp.send('Browser.getVersion')).product;
  } finally {
    await b.close();
  }
}
