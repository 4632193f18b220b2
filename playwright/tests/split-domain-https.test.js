// The README's domain layout end to end over HTTPS: the app on https://app.tessera.test
// (`tessera serve --app --tls-cert`), the artifacts on https://models.tessera.test served by
// Debian's nginx — and again by Caddy — from the config files the README quotes
// (docs/deploy/, only names, paths and ports replaced), and inference on
// https://api.tessera.test (`tessera serve --tls-cert --auth-key`, bearer tokens from
// `tessera token`). A test CA signs one certificate per host (openssl); Chromium maps
// *.tessera.test to 127.0.0.1 and trusts the three servers' keys by SPKI hash; curl checks what
// the artifacts host sends (Range 206/416, immutable shards, no-cache and brotli manifests, CORS
// for the app origin only, the preflight). The drop-in service worker with a cross-origin
// `artifactsBase` downloads, verifies, serves, works offline and updates exactly as on one
// origin; the runtime loads from the artifacts host and answers from the API origin.
// mTLS (`--client-ca`) with and without a client certificate is edge/tests/tls.rs (curl).
//
// nginx must be installed (`cargo xtask test` installs it); without it the nginx scenarios skip
// with a message, except under CI=true, where they fail. The same holds for Caddy.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { brotliCompressSync } from 'node:zlib';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchBrowser } from '../lib/browser.js';
import { WEBGPU_ARGS } from '../lib/demo.js';
import {
  ArtifactsHost, CADDY_MODELS, NGINX_CORS_CONF, NGINX_MODELS_CONF, TEST_DOMAIN,
  chromiumArgs, curl, freePort, makePki, requireServer, startTesseraTls,
} from '../lib/deploy.js';
import { REPO_ROOT, SHARD_SIZE, createFixture, shardsOf, tessera, uniqueShards } from '../lib/fixtures.js';
import { assertAnswer, mlpVectors } from '../lib/runtime.js';
import { Env, assertServedExactly, buildAppDir, settle, until, worldScenario } from '../lib/scenario.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RUNTIME_PAGE = path.join(HERE, '..', 'lib', 'runtime', 'app');
const MLP = path.join(REPO_ROOT, 'edge', 'tests', 'fixtures', 'mlp.onnx');
const MLP_VECTORS = path.join(REPO_ROOT, 'edge', 'tests', 'fixtures', 'mlp.vectors.json');

const APP = `app.${TEST_DOMAIN}`;
const MODELS = `models.${TEST_DOMAIN}`;
const API = `api.${TEST_DOMAIN}`;

/** The split-domain world: PKI, the artifacts host, the app and API servers, Chromium. */
class SplitEnv extends Env {
  /**
   * `host`: 'nginx' or 'caddy' for the artifacts; `runtime`: also pack `mlp` and launch Chromium
   * with WebGPU. Opens nothing in the page.
   */
  static async open({ host = 'nginx', runtime = false } = {}) {
    const env = new SplitEnv();
    try {
      env.fixture = await createFixture();
      const dir = env.fixture.dir;
      env.www = path.join(dir, 'www');
      await mkdir(env.www, { recursive: true });
      // root /srv/tessera with /srv/tessera/models = the artifacts directory, as in the README.
      await symlink(env.fixture.artifacts, path.join(env.www, 'models'));
      env.pki = await makePki(path.join(dir, 'pki'), [APP, MODELS, API]);
      const appPort = await freePort();
      const apiPort = await freePort();
      env.origin = `https://${APP}:${appPort}`;
      env.apiOrigin = `https://${API}:${apiPort}`;
      if (runtime) {
        await tessera([
          'pack', '--key', path.join(env.fixture.keys.trusted, 'tessera.key'), '--name', 'mlp', '--version', '1.0.0',
          '--test-vectors', MLP_VECTORS, '--out', env.fixture.artifacts, `model.onnx=${MLP}`,
        ]);
      }
      env.host = await ArtifactsHost.start(host, {
        dir: path.join(dir, host), root: env.www, host: env.pki.hosts[MODELS], appOrigin: env.origin,
      });
      env.modelsOrigin = env.host.origin;
      await env.compressManifests();

      env.appDir = await buildAppDir(env.fixture, { config: { artifactsBase: `${env.modelsOrigin}/models/` } });
      // The runtime's page beside the service worker's (its harness imports /harness.js).
      await cp(path.join(RUNTIME_PAGE, 'harness.js'), path.join(env.appDir, 'harness.js'));
      await cp(path.join(RUNTIME_PAGE, 'index.html'), path.join(env.appDir, 'rt.html'));
      const empty = path.join(dir, 'no-artifacts');
      await mkdir(empty);
      env.appLog = path.join(dir, 'app-requests.jsonl');
      // The app's CSP: connect-src 'self' plus the --cors-origin values (the other two origins).
      env.app = await startTesseraTls(APP, env.pki.hosts[APP], [
        '--artifacts', empty, '--app', env.appDir, '--cors-origin', env.modelsOrigin, '--cors-origin', env.apiOrigin,
        '--request-log', env.appLog,
      ], { port: appPort });

      const jwt = path.join(dir, 'jwt');
      await tessera(['keygen', '--out', jwt]);
      env.token = (await tessera(['token', '--key', path.join(jwt, 'tessera.key'), '--aud', API, '--ttl', '1h'])).trim();
      env.api = await startTesseraTls(API, env.pki.hosts[API], [
        '--artifacts', env.fixture.artifacts, '--trust', path.join(env.fixture.keys.trusted, 'tessera.pub.json'),
        '--auth-key', path.join(jwt, 'tessera.pub.json'), '--auth-audience', API, '--cors-origin', env.origin,
        '--infer-rate', '0',
      ], { port: apiPort });

      env.browser = await launchBrowser({ args: [...chromiumArgs(env.pki), ...(runtime ? WEBGPU_ARGS : [])] });
      env.page = env.browser.page;
    } catch (err) {
      env.pendingError = err;
    }
    return env;
  }

  /**
   * Precompresses every `manifest.json` beside itself (`manifest.json.br`) when the host serves
   * precompressed files: after every `tessera pack`, or the host keeps sending the old manifest.
   */
  async compressManifests() {
    if (!this.host.brotli) return;
    for (const entry of await readdir(this.fixture.artifacts, { withFileTypes: true })) {
      const file = path.join(this.fixture.artifacts, entry.name, 'manifest.json');
      if (entry.isDirectory() && existsSync(file)) await writeFile(`${file}.br`, brotliCompressSync(await readFile(file)));
    }
  }

  /** Requests the artifacts host logged, from `from` on. */
  async hostRequests(from = 0) {
    return (await this.host.requests()).slice(from);
  }

  /** Requests for `/models/…` that reached the app's origin (there must be none). */
  async appModelRequests() {
    const text = await readFile(this.appLog, 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => String(e.path).startsWith('/models/'));
  }

  report() {
    return [
      super.report(),
      '--- app server ---', this.app?.output() ?? '',
      '--- api server ---', this.api?.output() ?? '',
      this.hostReport ?? '',
    ].join('\n');
  }

  async close() {
    this.hostReport = await this.host?.report();
    await this.browser?.close();
    await this.app?.stop();
    await this.api?.stop();
    await this.host?.stop();
    await this.dispose();
  }
}

/**
 * A scenario in a {@link SplitEnv} with `host` serving the artifacts; skipped with a message
 * when `host` is not installed (an error under CI=true, see {@link requireServer}).
 */
function splitScenario(name, host, body, options = {}) {
  let installed;
  try {
    installed = requireServer(host);
  } catch (err) {
    // Under CI a missing server fails loudly.
    test(name, () => {
      throw err;
    });
    return;
  }
  if (!installed) {
    test(name, { skip: `${host} is not installed (apt-get install -y ${host}; \`cargo xtask test\` installs it)` }, () => {});
    return;
  }
  worldScenario((o) => SplitEnv.open(o), name, body, { host, timeout: 90_000, grace: 30_000, ...options });
}

/** Asserts the README quotes `file` verbatim (README and the tested config cannot drift). */
async function assertReadmeQuotes(file) {
  const readme = await readFile(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const text = (await readFile(file, 'utf8')).trimEnd();
  assert.ok(readme.includes(text), `README.md must quote ${path.relative(REPO_ROOT, file)} verbatim (the test serves that file)`);
}

/** What the artifacts host sends, checked with curl (a non-browser client) over HTTP/2. */
async function checkArtifactsHost(env, t) {
  const manifest = await env.fixture.manifest('1.0.0');
  const shard = uniqueShards(manifest).find((s) => s.size === SHARD_SIZE);
  const shardUrl = `${env.modelsOrigin}/models/_shards/${shard.sha256}`;
  const origin = { Origin: env.origin };

  const part = await curl(env.pki, shardUrl, { headers: { ...origin, Range: 'bytes=100-199', 'Accept-Encoding': 'gzip, br, zstd' } });
  assert.equal(part.httpVersion, '2', 'HTTP/2 negotiated');
  assert.equal(part.status, 206, 'a Range request of a shard → 206');
  assert.equal(part.headers['content-range'], `bytes 100-199/${SHARD_SIZE}`);
  assert.equal(part.body.length, 100);
  assert.deepEqual(part.body, (await readFile(env.fixture.shardPath(shard.sha256))).subarray(100, 200));
  assert.equal(part.headers['content-encoding'], undefined, 'shards are never compressed on the fly');
  assert.equal(part.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.match(part.headers.etag ?? '', /^"[^"]+"$/, 'a strong ETag on shards');
  assert.equal(part.headers['access-control-allow-origin'], env.origin, 'CORS for the app origin');
  assert.match(part.headers['access-control-expose-headers'] ?? '', /Content-Range/);
  assert.match(part.headers['strict-transport-security'] ?? '', /max-age=\d+/);

  const whole = await curl(env.pki, shardUrl, { headers: origin, http: '--http1.1' });
  assert.equal(whole.status, 200);
  assert.equal(whole.body.length, SHARD_SIZE);
  assert.equal(whole.headers['accept-ranges'], 'bytes');

  const past = await curl(env.pki, shardUrl, { headers: { ...origin, Range: `bytes=${SHARD_SIZE}-` } });
  assert.equal(past.status, 416, 'a range past the end → 416');
  assert.equal(past.headers['content-range'], `bytes */${SHARD_SIZE}`);
  assert.equal(past.headers['access-control-allow-origin'], env.origin, 'one Access-Control-Allow-Origin on a 416 too');

  const manifestUrl = `${env.modelsOrigin}/models/${env.model}/manifest.json`;
  const m = await curl(env.pki, manifestUrl, { headers: { ...origin, 'Accept-Encoding': 'br' } });
  assert.equal(m.status, 200);
  assert.equal(m.headers['cache-control'], 'no-cache', 'manifests: no-cache');
  assert.ok(m.headers.etag, 'an ETag on manifests');
  assert.equal(m.headers['access-control-allow-origin'], env.origin);
  if (env.host.brotli) assert.equal(m.headers['content-encoding'], 'br', 'the precompressed manifest.json.br');
  else t.diagnostic(`${env.host.kind}: no brotli module, manifests served uncompressed`);
  const plain = await curl(env.pki, manifestUrl, { headers: origin });
  assert.equal(plain.headers['content-encoding'], undefined, 'no brotli for a client that does not ask for it');
  assert.deepEqual(plain.body, await readFile(env.fixture.manifestPath));

  const missing = await curl(env.pki, `${env.modelsOrigin}/models/nope/manifest.json`, { headers: origin });
  assert.equal(missing.status, 404);
  assert.equal(missing.headers['access-control-allow-origin'], env.origin, 'CORS on a 404, so the page reads the status');

  const preflight = await curl(env.pki, manifestUrl, {
    method: 'OPTIONS',
    headers: { ...origin, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization,range' },
  });
  assert.ok([200, 204].includes(preflight.status), `preflight status ${preflight.status}`);
  assert.equal(preflight.headers['access-control-allow-origin'], env.origin);
  assert.match(preflight.headers['access-control-allow-headers'] ?? '', /Authorization/i);
  assert.match(preflight.headers['access-control-allow-headers'] ?? '', /Range/i);
}

/**
 * The drop-in worker against the split origins: download and verify from the artifacts host,
 * serve, offline reload, then an update published there.
 */
async function serviceWorkerAcrossOrigins(env, t) {
  const weights = env.fixture.files.get('weights.bin');
  const v1 = await env.fixture.manifest('1.0.0');
  const before = (await env.hostRequests()).length; // curl's requests

  const registered = await env.load();
  assert.ok(registered.controlled);
  assert.ok(await env.page.evaluate(() => window.isSecureContext), 'the app is a secure context');

  const ready = await env.ensure();
  assert.ok(ready.ok, `ensureModel failed: ${JSON.stringify(ready.error)}`);
  assert.equal(ready.status.version, '1.0.0');
  assertServedExactly(await env.fetchModelFile('weights.bin'), weights, 'weights.bin');
  assertServedExactly(await env.fetchModelFile('config.json'), env.fixture.files.get('config.json'), 'config.json');
  const slice = await env.fetchModelFile('weights.bin', { range: 'bytes=100-199' });
  assert.equal(slice.status, 206);

  const online = await env.hostRequests(before);
  const manifestGets = online.filter((e) => e.method === 'GET' && e.uri.startsWith(`/models/${env.model}/manifest.json`));
  assert.ok(manifestGets.length >= 1, `the manifest came from the artifacts host:\n${JSON.stringify(online, null, 1)}`);
  if (env.host.brotli) {
    assert.ok(manifestGets.some((e) => e.encoding === 'br'), `Chromium got the brotli manifest: ${JSON.stringify(manifestGets)}`);
  }
  const shardGets = online.filter((e) => e.uri.startsWith('/models/_shards/'));
  assert.deepEqual(
    [...new Set(shardGets.map((e) => e.uri.split('/').pop()))].sort(),
    uniqueShards(v1).map((s) => s.sha256).sort(),
    'every shard came from the artifacts host',
  );
  assert.ok(shardGets.every((e) => e.status === 206 || e.status === 200), `shard statuses: ${shardGets.map((e) => e.status)}`);
  assert.ok(shardGets.every((e) => !e.encoding), 'no shard was sent compressed');
  const fileGets = online.filter((e) => /^\/models\/[^_][^/]*\/(?!manifest\.json|versions\/)/.test(e.uri));
  assert.deepEqual(fileGets, [], 'model files are answered from verified storage, never fetched');
  assert.deepEqual(await env.appModelRequests(), [], 'no /models/ request reached the app origin');

  // A cross-origin 416 is readable by the page (one Access-Control-Allow-Origin).
  const shard = uniqueShards(v1)[0];
  const past = await env.page.evaluate(async ([url, range]) => {
    try {
      const r = await fetch(url, { headers: { Range: range }, cache: 'no-store' });
      return { status: r.status };
    } catch (e) {
      return { error: String(e) };
    }
  }, [`${env.modelsOrigin}/models/_shards/${shard.sha256}`, `bytes=${shard.size}-`]);
  assert.deepEqual(past, { status: 416 }, 'the page reads a 416 from the artifacts host');

  // Offline: the app and the model come from the worker, nothing reaches the network.
  const seen = (await env.hostRequests()).length;
  await env.browser.setOffline(true);
  await env.load({ reload: true });
  assertServedExactly(await env.fetchModelFile('weights.bin'), weights, 'weights.bin offline');
  const again = await env.ensure();
  assert.ok(again.ok, `ensureModel offline: ${JSON.stringify(again.error)}`);
  await env.browser.stopAllWorkers();
  await env.load({ reload: true });
  assertServedExactly(await env.fetchModelFile('weights.bin'), weights, 'weights.bin offline, fresh worker');
  assert.equal((await env.hostRequests()).length, seen, 'nothing reached the artifacts host while offline');
  await env.browser.setOffline(false);

  // An update published on the artifacts host: only the changed shards are fetched.
  env.fixture.changeRegion('weights.bin', 3 * SHARD_SIZE + 4096, 8192);
  const v2 = await env.fixture.pack('1.1.0');
  await env.compressManifests();
  const known = new Set(shardsOf(v1).map((s) => s.sha256));
  const changed = uniqueShards(v2).filter((s) => !known.has(s.sha256));
  const mark = (await env.hostRequests()).length;
  const checked = await env.checkUpdate();
  assert.ok(checked.ok, `checkUpdate: ${JSON.stringify(checked.error)}`);
  let status = checked.status;
  if (status?.version !== '1.1.0' || status.state !== 'ready') {
    const ensured = await env.ensure();
    assert.ok(ensured.ok, `ensureModel after the update: ${JSON.stringify(ensured.error)}`);
    status = ensured.status;
  }
  status = await until(async () => {
    const s = (await env.status()).status;
    return s?.version === '1.1.0' && s.state === 'ready' && s;
  }, { what: 'version 1.1.0 ready' });
  const updated = await env.fetchModelFile('weights.bin');
  assertServedExactly(updated, env.fixture.files.get('weights.bin'), 'weights.bin after the update');
  assert.equal(updated.headers['x-tessera-version'], '1.1.0');
  const fetched = (await env.hostRequests(mark)).filter((e) => e.uri.startsWith('/models/_shards/'));
  assert.deepEqual(
    [...new Set(fetched.map((e) => e.uri.split('/').pop()))].sort(),
    changed.map((s) => s.sha256).sort(),
    'the update fetched exactly the changed shards from the artifacts host',
  );
  t.diagnostic(`${env.host.kind}: ${online.length} requests for the first download, ${fetched.length} shard requests for the update`);
}

splitScenario(
  'split domains over HTTPS, nginx: the README config serves Range, immutable shards, no-cache brotli manifests and CORS; the worker downloads, serves, works offline and updates across origins',
  'nginx',
  async (env, t) => {
    await assertReadmeQuotes(NGINX_MODELS_CONF);
    await assertReadmeQuotes(NGINX_CORS_CONF);
    await checkArtifactsHost(env, t);
    await serviceWorkerAcrossOrigins(env, t);
  },
);

splitScenario(
  'split domains over HTTPS, Caddy: the README Caddyfile serves the artifacts; the worker downloads, serves, works offline and updates across origins',
  'caddy',
  async (env, t) => {
    await assertReadmeQuotes(CADDY_MODELS);
    await checkArtifactsHost(env, t);
    await serviceWorkerAcrossOrigins(env, t);
  },
);

splitScenario(
  'split domains over HTTPS: the runtime loads from the artifacts host and answers from the API origin with a bearer token',
  'nginx',
  async (env, t) => {
    const vectors = await mlpVectors();
    await env.page.goto(`${env.origin}/rt.html`, { waitUntil: 'load' });
    await env.page.waitForFunction(() => window.rtReady === true, null, { timeout: 10_000 });
    const key = await env.fixture.trustedKey();
    const base = { trustedKeys: [key], controlled: false, modelsBase: `${env.modelsOrigin}/models/`, edgeUrl: env.apiOrigin };
    const create = async (id, options) => {
      const created = await env.page.evaluate(([i, o]) => window.rt.create(i, o), [id, { ...base, ...options }]);
      assert.ok(created.ok, `TesseraRuntime.create: ${JSON.stringify(created)}`);
    };
    const runIt = (id, vector, options = {}) =>
      settle(env.page.evaluate(([i, x, o]) => window.rt.run(i, 'mlp', x, o), [id, vector.inputs, options]), 30_000, `run ${id}`);

    // The edge: over TLS, cross-origin, with the token.
    await create('edge', { policy: 'edge-only', token: env.token });
    for (const vector of vectors) {
      assertAnswer(await runIt('edge', vector), { source: 'edge', vector }, `edge-only ${vector.name}`);
    }
    // Without the token the API refuses.
    await create('anonymous', { policy: 'edge-only' });
    const refused = await runIt('anonymous', vectors[0]);
    assert.equal(refused.ok, false, 'no token → refused');
    assert.equal(refused.failure, 'edge-rejected', `no token: ${JSON.stringify(refused)}`);

    // The browser: the model verified from the artifacts host and run locally.
    await create('local', { policy: 'local-only', token: env.token });
    const capabilities = await settle(env.page.evaluate(() => window.rt.capabilities('local')), 20_000, 'capabilities');
    t.diagnostic(`WebGPU adapter: ${capabilities.ok ? 'yes' : `no (${capabilities.code})`}; no token → ${refused.code}`);
    if (capabilities.ok) {
      const load = await settle(env.page.evaluate(() => window.rt.load('local', 'mlp')), 30_000, 'load');
      assert.ok(load.ok, `load from ${env.modelsOrigin}: ${JSON.stringify(load)}`);
      assert.equal(load.value.vectorsPassed, vectors.length);
      assertAnswer(await runIt('local', vectors[0]), { source: 'local', vector: vectors[0] }, 'local-only');
      // Local unavailable for this call (edge-only): the API answers.
      assertAnswer(await runIt('local', vectors[1], { policy: 'edge-only' }), { source: 'edge', vector: vectors[1] }, 'edge-only on a local runtime');
      const shardGets = (await env.hostRequests()).filter((e) => e.uri.startsWith('/models/_shards/'));
      assert.ok(shardGets.length > 0, 'the runtime fetched its shards from the artifacts host');
    } else {
      // No WebGPU here: prefer-local falls back to the API origin.
      await create('fallback', { policy: 'prefer-local', token: env.token });
      assertAnswer(await runIt('fallback', vectors[0]), { source: 'edge', fallbackReason: 'no-adapter', vector: vectors[0] }, 'prefer-local without WebGPU');
    }
    const infers = (await readFile(env.appLog, 'utf8')).split('\n').filter((l) => l.includes('/v1/'));
    assert.deepEqual(infers, [], 'no inference request reached the app origin');
  },
  { runtime: true },
);
