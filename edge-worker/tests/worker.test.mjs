// The edge worker on local workerd (offline), against `tessera serve` on the same artifacts:
// same answers for the demo recommender, same error codes and statuses, and refusals of a
// tampered shard in KV or R2 and of a manifest signed by another key.
//
// Needs: the worker built (`cargo xtask` builds it into target/edge-worker/, or set
// EDGE_WORKER_DIST), the `tessera` CLI (TESSERA_BIN, default target/debug/tessera), the demo
// models (TESSERA_DEMO_MODELS, default target/demo-models: recommender.onnx and
// recommender.vectors.json from models/make_models.py) and workerd from npm.
//
//   node --test edge-worker/tests/

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { DEFAULT_DIST, freePort, ROOT, startWorkerd, writeConfig } from '../local.mjs';

const TESSERA = process.env.TESSERA_BIN ?? join(ROOT, 'target', 'debug', 'tessera');
const DIST = process.env.EDGE_WORKER_DIST ?? DEFAULT_DIST;
const MODELS = process.env.TESSERA_DEMO_MODELS ?? join(ROOT, 'target', 'demo-models');
const WEB = process.env.TESSERA_WEB_DIR ?? join(ROOT, 'target', 'web');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const AUDIENCE = 'edge-worker-test';
const MODEL = 'recommender';

const tmp = mkdtempSync(join(tmpdir(), 'tessera-edge-worker-test-'));
const children = [];

const tessera = (...args) => execFileSync(TESSERA, ['-q', ...args], { encoding: 'utf8' }).trim();

async function waitFor(url, ms = 30_000) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    if (Date.now() > until) throw new Error(`${url} did not answer`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Packs the demo recommender with `key` into a fresh artifacts directory. */
function pack(dir, key, shardSize = '1MiB') {
  tessera('pack', '--key', key, '--name', MODEL, '--version', '1.0.0', '--shard-size', shardSize,
    '--test-vectors', join(MODELS, `${MODEL}.vectors.json`), '--out', dir, join(MODELS, `${MODEL}.onnx`));
  return dir;
}

/** The worker on local workerd over `artifacts` as its KV namespace (`store: 'kv'`) or R2 bucket. */
async function worker(artifacts, env, { store = 'kv' } = {}) {
  const dir = mkdtempSync(join(tmp, 'workerd-'));
  const port = await freePort();
  const config = writeConfig({ dir, dist: DIST, artifacts, port, env, store });
  const started = performance.now();
  const child = await startWorkerd(config);
  children.push(child);
  return { base: `http://127.0.0.1:${port}`, started, child };
}

async function serve(artifacts, trust) {
  const port = await freePort();
  const child = spawn(TESSERA, ['serve', '--artifacts', artifacts, '--addr', `127.0.0.1:${port}`,
    '--trust', trust, '--engine', 'tract', '--infer-workers', '1', '--infer-rate', '0',
    '--auth-key', join(tmp, 'auth', 'tessera.pub.json'), '--auth-audience', AUDIENCE],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${base}/healthz`);
  return { base, started: performance.now() };
}

/** Serves the web build (target/web: the browser runtime) and an empty page, for the edgeUrl test. */
async function webServer() {
  const port = await freePort();
  const types = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
  const server = createHttpServer((request, response) => {
    const path = new URL(request.url, 'http://x').pathname;
    if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>edge worker</title>');
      return;
    }
    const file = join(WEB, path.slice(1));
    if (!/^\/[\w.-]+$/.test(path) || !existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    const ext = path.slice(path.lastIndexOf('.'));
    response.writeHead(200, { 'content-type': types[ext] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  return { server, origin: `http://127.0.0.1:${port}` };
}

async function infer(base, body, { token, method = 'POST', model = MODEL } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${base}/v1/models/${model}/infer`, {
    method,
    headers,
    body: method === 'POST' ? (typeof body === 'string' ? body : JSON.stringify(body)) : undefined,
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = { raw: text };
  }
  return { status: response.status, headers: response.headers, json };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const ready = existsSync(join(DIST, 'tessera_edge_worker_bg.wasm')) && existsSync(TESSERA)
  && existsSync(join(MODELS, `${MODEL}.onnx`));

describe('edge worker on workerd', { skip: ready ? false : `needs ${DIST}, ${TESSERA} and ${MODELS}` }, () => {
  let keys;
  let artifacts;
  let token;
  let edge;
  let origin;
  let vectors;
  let web;

  before(async () => {
    web = await webServer();
    keys = join(tmp, 'keys');
    tessera('keygen', '--out', keys);
    tessera('keygen', '--out', join(tmp, 'auth'));
    token = tessera('token', '--key', join(tmp, 'auth', 'tessera.key'), '--aud', AUDIENCE, '--sub', 'tests');
    artifacts = pack(join(tmp, 'artifacts'), join(keys, 'tessera.key'));
    vectors = JSON.parse(readFileSync(join(MODELS, `${MODEL}.vectors.json`), 'utf8'));
    [edge, origin] = await Promise.all([
      worker(artifacts, {
        TRUSTED_KEYS: readFileSync(join(keys, 'tessera.pub.json'), 'utf8'),
        AUTH_KEYS: readFileSync(join(tmp, 'auth', 'tessera.pub.json'), 'utf8'),
        AUTH_AUDIENCE: AUDIENCE,
        INFER_RATE: '0',
        CORS_ORIGINS: web.origin,
      }),
      serve(artifacts, join(keys, 'tessera.pub.json')),
    ]);
  });

  after(() => {
    web?.server.close();
    for (const child of children) child.kill();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('answers the demo recommender as tessera serve does (known-answer inputs and random ones)', async (t) => {
    const first = await infer(edge.base, { inputs: vectors[0].inputs }, { token });
    t.diagnostic(`cold start (workerd spawned → first answer: wasm compiled, 28 MB model read from KV, verified, self-tested): ${(performance.now() - edge.started).toFixed(0)} ms`);
    assert.equal(first.status, 200, JSON.stringify(first.json));
    const t0 = performance.now();
    const firstOrigin = await infer(origin.base, { inputs: vectors[0].inputs }, { token });
    t.diagnostic(`tessera serve first answer (model loaded and verified, session built): ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(firstOrigin.status, 200, JSON.stringify(firstOrigin.json));
    const spec = vectors[0].inputs;
    const random = () => Object.fromEntries(Object.entries(spec).map(([name, tensor]) => [name, {
      ...tensor, data: tensor.data.map(() => Math.round((Math.random() * 2 - 1) * 1000) / 1000),
    }]));
    const bodies = [...vectors.map((v) => ({ inputs: v.inputs })), ...Array.from({ length: 5 }, () => ({ inputs: random() }))];
    let worstSeen = 0;
    for (const body of bodies) {
      const [w, s] = await Promise.all([infer(edge.base, body, { token }), infer(origin.base, body, { token })]);
      assert.equal(w.status, 200, JSON.stringify(w.json));
      assert.equal(s.status, 200, JSON.stringify(s.json));
      assert.equal(w.json.model, s.json.model);
      assert.equal(w.json.version, s.json.version);
      assert.equal(w.json.source, 'edge');
      assert.equal(w.json.engine, 'tract-wasm');
      assert.equal(w.headers.get('cache-control'), 'no-store');
      assert.deepEqual(Object.keys(w.json.outputs), Object.keys(s.json.outputs));
      assert.deepEqual(Object.keys(w.json.timings).sort(), Object.keys(s.json.timings).sort());
      for (const [name, out] of Object.entries(s.json.outputs)) {
        const got = w.json.outputs[name];
        assert.equal(got.dtype, out.dtype);
        assert.deepEqual(got.shape, out.shape);
        assert.equal(got.data.length, out.data.length);
        // tract's wasm32 SIMD kernels sum in another order than its native ones: float32
        // rounding, not bit-identical (the self-test's tolerance is coarser still).
        const worst = Math.max(...out.data.map((x, i) => Math.abs(x - got.data[i]) / Math.max(1, Math.abs(x))));
        assert.ok(worst <= 1e-5, `${name}: worst relative difference ${worst}`);
        worstSeen = Math.max(worstSeen, worst);
      }
    }
    t.diagnostic(`${bodies.length} inputs: worst relative difference worker vs tessera serve ${worstSeen.toExponential(2)}`);
  });

  test('refuses bad requests with the same status and code as tessera serve', async () => {
    const [name, tensor] = Object.entries(vectors[0].inputs)[0];
    const other = tessera('token', '--key', join(tmp, 'auth', 'tessera.key'), '--aud', 'someone-else');
    const stranger = tessera('token', '--key', join(keys, 'tessera.key'), '--aud', AUDIENCE);
    // The valid token's claims under `alg: none` (and no signature): refused before any key is used.
    const b64url = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${token.split('.')[1]}.`;
    const cases = [
      ['no token', { inputs: vectors[0].inputs }, {}, 401, 'auth-missing'],
      ['garbage token', { inputs: vectors[0].inputs }, { token: 'a.b.c' }, 401, 'auth-invalid'],
      ['token for another audience', { inputs: vectors[0].inputs }, { token: other }, 401, 'auth-audience'],
      ['token by an unknown key', { inputs: vectors[0].inputs }, { token: stranger }, 401, 'auth-invalid'],
      ['alg none', { inputs: vectors[0].inputs }, { token: unsigned }, 401, 'auth-invalid'],
      ['not a bearer token', { inputs: vectors[0].inputs }, { token: '' }, 401, 'auth-missing'],
      ['GET', null, { token, method: 'GET' }, 405, 'method-not-allowed'],
      ['unknown model', { inputs: vectors[0].inputs }, { token, model: 'nope' }, 404, 'model-not-found'],
      ['invalid model name', { inputs: vectors[0].inputs }, { token, model: '..bad' }, 400, 'invalid-model-name'],
      ['malformed JSON', '{"inputs":', { token }, 400, 'request-malformed'],
      ['unknown input', { inputs: { ...vectors[0].inputs, extra: tensor } }, { token }, 400, 'input-unknown'],
      ['missing input', { inputs: {} }, { token }, 400, 'input-missing'],
      ['wrong shape', { inputs: { [name]: { ...tensor, shape: [tensor.shape.reduce((a, b) => a * b)] } } }, { token }, 400, 'tensor-shape-mismatch'],
      ['wrong dtype', { inputs: { [name]: { ...tensor, dtype: 'int32' } } }, { token }, 400, 'tensor-dtype-mismatch'],
      ['too few values', { inputs: { [name]: { ...tensor, data: tensor.data.slice(1) } } }, { token }, 400, 'tensor-data-length'],
    ];
    for (const [label, body, options, status, code] of cases) {
      const [w, s] = await Promise.all([infer(edge.base, body, options), infer(origin.base, body, options)]);
      assert.equal(s.status, status, `${label}: tessera serve ${JSON.stringify(s.json)}`);
      assert.equal(s.json.error?.code, code, `${label}: tessera serve`);
      assert.equal(w.status, s.status, `${label}: worker ${JSON.stringify(w.json)}`);
      assert.equal(w.json.error?.code, s.json.error?.code, `${label}: worker`);
      assert.equal(w.headers.get('www-authenticate'), s.headers.get('www-authenticate'), label);
      assert.equal(w.headers.get('allow'), s.headers.get('allow'), label);
    }
  });

  /** A copy of the artifacts with one bit of the first shard flipped. */
  function tampered(name) {
    const copy = join(tmp, name);
    cpSync(artifacts, copy, { recursive: true });
    const shards = join(copy, '_shards');
    const victim = join(shards, readdirSync(shards).sort()[0]);
    const bytes = readFileSync(victim);
    bytes[bytes.length >> 1] ^= 0x01;
    writeFileSync(victim, bytes);
    return copy;
  }

  test('requests in flight together all answer, the first load and manifest re-reads included (no request awaits another request\'s KV read)', async () => {
    // MANIFEST_RECHECK_SECS=0: every request re-reads the manifest while others wait for it.
    // Before the fix, requests chained on one shared promise and most failed with 500
    // (workerd: "Cannot perform I/O on behalf of a different request", or cancelled as hung).
    const w = await worker(artifacts, {
      TRUSTED_KEYS: readFileSync(join(keys, 'tessera.pub.json'), 'utf8'), INFER_RATE: '0', MANIFEST_RECHECK_SECS: '0',
    });
    // Four clients, each sending its next request as soon as the last is answered, for 3 s;
    // the first requests arrive before the model is loaded (one loads, the others wait).
    const statuses = {};
    const until = performance.now() + 3000;
    const client = async () => {
      while (performance.now() < until) {
        const a = await infer(w.base, { inputs: vectors[0].inputs });
        statuses[a.status] = (statuses[a.status] ?? 0) + 1;
        if (a.status !== 200) assert.fail(`${a.status} ${JSON.stringify(a.json)} after ${JSON.stringify(statuses)}\n${w.child.output().slice(-2000)}`);
      }
    };
    await Promise.all([client(), client(), client(), client()]);
    assert.ok(statuses[200] > 20, JSON.stringify(statuses));
  });

  test('a tampered shard in KV is refused with shard-corrupt', async () => {
    const w = await worker(tampered('tampered'), { TRUSTED_KEYS: readFileSync(join(keys, 'tessera.pub.json'), 'utf8') });
    const answer = await infer(w.base, { inputs: vectors[0].inputs });
    assert.equal(answer.status, 500, JSON.stringify(answer.json));
    assert.equal(answer.json.error.code, 'shard-corrupt');
    // And it stays refused (no unverified bytes are ever run).
    const again = await infer(w.base, { inputs: vectors[0].inputs });
    assert.equal(again.json.error.code, 'shard-corrupt');
  });

  test('from an R2 bucket (workerd\'s R2 binding, on disk): the model answers as from KV; a tampered shard is refused', async (t) => {
    const trusted = readFileSync(join(keys, 'tessera.pub.json'), 'utf8');
    const started = performance.now();
    // MODELS_STORE=r2 picks the R2 binding; only MODELS_R2 is bound.
    const r2 = await worker(artifacts, { TRUSTED_KEYS: trusted, INFER_RATE: '0', MODELS_STORE: 'r2' }, { store: 'r2' });
    const body = { inputs: vectors[0].inputs };
    const [fromR2, fromKv] = [await infer(r2.base, body), await infer(edge.base, body, { token })];
    t.diagnostic(`cold start from R2 (spawn → first answer): ${(performance.now() - started).toFixed(0)} ms`);
    assert.equal(fromR2.status, 200, JSON.stringify(fromR2.json));
    assert.equal(fromR2.json.version, fromKv.json.version);
    assert.deepEqual(fromR2.json.outputs, fromKv.json.outputs);
    for (const [out, want] of Object.entries(vectors[0].outputs)) {
      const worst = Math.max(...want.data.map((x, i) => Math.abs(x - fromR2.json.outputs[out].data[i])));
      assert.ok(worst <= vectors[0].tolerance, `${out}: ${worst} over the vector's tolerance`);
    }
    // A model that is not in the bucket is a 404 (R2's NoSuchKey is `null`, not an error).
    const missing = await infer(r2.base, body, { model: 'nope' });
    assert.equal(missing.status, 404, JSON.stringify(missing.json));
    assert.equal(missing.json.error.code, 'model-not-found');
    const bad = await worker(tampered('tampered-r2'), { TRUSTED_KEYS: trusted, MODELS_STORE: 'r2' }, { store: 'r2' });
    for (let i = 0; i < 2; i += 1) {
      const answer = await infer(bad.base, body);
      assert.equal(answer.status, 500, JSON.stringify(answer.json));
      assert.equal(answer.json.error.code, 'shard-corrupt');
    }
    // MODELS_STORE names the store: `kv` with only R2 bound is unavailable, not a silent switch.
    const unbound = await worker(artifacts, { TRUSTED_KEYS: trusted, MODELS_STORE: 'kv' }, { store: 'r2' });
    const refused = await infer(unbound.base, body);
    assert.equal(refused.status, 503, JSON.stringify(refused.json));
    assert.equal(refused.json.error.code, 'inference-unavailable');
  });

  test('a manifest signed by another key is refused with manifest-unknown-key; expired tokens 401, rate limits 429', async () => {
    const other = join(tmp, 'other-key');
    tessera('keygen', '--out', other);
    const foreign = pack(join(tmp, 'foreign'), join(other, 'tessera.key'));
    const expiring = tessera('token', '--key', join(tmp, 'auth', 'tessera.key'), '--aud', AUDIENCE, '--ttl', '1s');
    const w = await worker(foreign, {
      TRUSTED_KEYS: readFileSync(join(keys, 'tessera.pub.json'), 'utf8'),
      AUTH_KEYS: readFileSync(join(tmp, 'auth', 'tessera.pub.json'), 'utf8'),
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_LEEWAY_SECS: '0',
      INFER_RATE: '1',
      INFER_BURST: '2',
    });
    await new Promise((r) => setTimeout(r, 2100));
    const expired = await infer(w.base, { inputs: vectors[0].inputs }, { token: expiring });
    assert.equal(expired.status, 401, JSON.stringify(expired.json));
    assert.equal(expired.json.error.code, 'auth-expired');
    const answer = await infer(w.base, { inputs: vectors[0].inputs }, { token });
    assert.equal(answer.status, 500, JSON.stringify(answer.json));
    assert.equal(answer.json.error.code, 'manifest-unknown-key');
    await infer(w.base, { inputs: vectors[0].inputs }, { token });
    const limited = await infer(w.base, { inputs: vectors[0].inputs }, { token });
    assert.equal(limited.status, 429, JSON.stringify(limited.json));
    assert.equal(limited.json.error.code, 'rate-limited');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  });

  test('the hostile-manifest table is refused with each case\'s code; kept versions keep answering', async () => {
    // core's one table (`tessera hostile-manifests`), as the edge, service worker and runtime meet it.
    const table = join(tmp, 'hostile');
    tessera('hostile-manifests', '--key', join(keys, 'tessera.key'), '--from', join(artifacts, MODEL, 'manifest.json'), '--out', table);
    const cases = JSON.parse(readFileSync(join(table, 'cases.json'), 'utf8'));
    const store = join(tmp, 'hostile-artifacts');
    cpSync(join(artifacts, '_shards'), join(store, '_shards'), { recursive: true });
    const w = await worker(store, {
      TRUSTED_KEYS: readFileSync(join(keys, 'tessera.pub.json'), 'utf8'),
      MANIFEST_RECHECK_SECS: '0',
      INFER_RATE: '0',
    });
    const publish = (model, file) => {
      mkdirSync(join(store, model), { recursive: true });
      cpSync(join(table, file), join(store, model, 'manifest.json'));
    };
    const body = { inputs: vectors[0].inputs };
    assert.ok(cases.length >= 9, `${cases.length} cases`);
    for (const c of cases) {
      if (c.previous) {
        publish(c.model, c.previous);
        const kept = await infer(w.base, body, { model: c.model });
        assert.equal(kept.status, 200, `${c.case}: the valid previous manifest: ${JSON.stringify(kept.json)}`);
        publish(c.model, c.offered);
        const answer = await infer(w.base, body, { model: c.model });
        assert.equal(answer.status, 200, `${c.case}: ${JSON.stringify(answer.json)}`);
        assert.equal(answer.json.version, kept.json.version, `${c.case}: kept version`);
        assert.equal(answer.headers.get('x-tessera-refused-update'), c.code, c.case);
      } else {
        publish(c.model, c.offered);
        const answer = await infer(w.base, body, { model: c.model });
        assert.equal(answer.status, 500, `${c.case}: ${JSON.stringify(answer.json)}`);
        assert.equal(answer.json.error.code, c.code, c.case);
      }
    }
  });

  const browser = existsSync(CHROMIUM) && existsSync(join(WEB, 'tessera-runtime.js'));
  test('the browser runtime with edgeUrl pointed at the worker answers (CORS, data_b64)', { skip: browser ? false : `needs ${CHROMIUM} and ${WEB} (cargo xtask build-web)` }, async () => {
    const { chromium } = await import('playwright-core');
    const instance = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await instance.newPage();
      await page.goto(`${web.origin}/`);
      const [name, tensor] = Object.entries(vectors[0].inputs)[0];
      const answer = await page.evaluate(async ({ edgeUrl, token, name, tensor, model }) => {
        const { TesseraRuntime } = await import('/tessera-runtime.js');
        const rt = await TesseraRuntime.create({ edgeUrl, policy: 'edge-only', token });
        const result = await rt.run(model, { [name]: { dtype: tensor.dtype, shape: tensor.shape, data: new Float32Array(tensor.data) } });
        rt.close();
        return {
          source: result.source,
          outputs: Object.fromEntries(Object.entries(result.outputs).map(([k, v]) => [k, { shape: v.shape, data: Array.from(v.data) }])),
        };
      }, { edgeUrl: edge.base, token, name, tensor, model: MODEL });
      assert.equal(answer.source, 'edge');
      for (const [out, want] of Object.entries(vectors[0].outputs)) {
        const got = answer.outputs[out];
        assert.deepEqual(got.shape, want.shape);
        const worst = Math.max(...want.data.map((x, i) => Math.abs(x - got.data[i])));
        assert.ok(worst <= vectors[0].tolerance, `${out}: ${worst} over the vector's tolerance`);
      }
    } finally {
      await instance.close();
    }
  });

  test('steady latency, worker vs tessera serve (diagnostic)', async (t) => {
    const body = { inputs: vectors[0].inputs };
    for (const [label, base] of [['workerd', edge.base], ['tessera serve', origin.base]]) {
      for (let i = 0; i < 20; i += 1) await infer(base, body, { token });
      const times = [];
      for (let i = 0; i < 200; i += 1) {
        const t0 = performance.now();
        const r = await infer(base, body, { token });
        times.push(performance.now() - t0);
        assert.equal(r.status, 200);
      }
      times.sort((a, b) => a - b);
      t.diagnostic(`${label}: p50 ${percentile(times, 50).toFixed(2)} ms, p99 ${percentile(times, 99).toFixed(2)} ms (200 sequential requests, loopback)`);
    }
  });
});
