// The inference runtime's world: three models packed with a throwaway key — `mlp` (the edge's
// MLP fixture and its known answers), `mlp-wrong` (the same model; in the browser's copy every
// known answer is off by +1.0, so the local self-test fails, while the edge's copy is right, so
// the edge answers) and `clf` (a Softmax classifier whose shader Chromium rejects) —
// `tessera serve` with edge inference behind the fault-injecting proxy, an app of the runtime's
// web files, a small page (`runtime/app/`) and the browser's copy of the models under
// `/browser-models/`, and Chromium with or without WebGPU. `runtimeScenario()` wraps
// `worldScenario()`; the scenarios decide what to assert.

import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchBrowser } from './browser.js';
import { WEBGPU_ARGS } from './demo.js';
import { REPO_ROOT, tessera } from './fixtures.js';
import { WEB_DIR, settle, World, worldScenario } from './scenario.js';
import { startProxy, startServer } from './server.js';

const HERE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'runtime');

/** The edge's MLP fixture (x [1,16] → y [1,8]) and its four known-answer vectors. */
const MLP = path.join(REPO_ROOT, 'edge', 'tests', 'fixtures', 'mlp.onnx');
const MLP_VECTORS = path.join(REPO_ROOT, 'edge', 'tests', 'fixtures', 'mlp.vectors.json');

/** The Softmax classifier (x [1,4] → y [1,3]), made by `runtime/fixtures/make_softmax.py` (committed). */
const CLF = path.join(HERE, 'fixtures', 'clf.onnx');
const CLF_VECTORS = path.join(HERE, 'fixtures', 'clf.vectors.json');

/** The runtime's files from the web build that the page loads. */
const RUNTIME_FILES = [
  'tessera-runtime.js', 'tessera-runtime-worker.js', 'tessera_runtime.js', 'tessera_runtime_bg.wasm',
  'tessera_runtime_webgpu.js', 'tessera_runtime_webgpu_bg.wasm',
  'tessera_runtime_cpu.js', 'tessera_runtime_cpu_bg.wasm',
];

/** Where the page's runtimes load models from (the browser's copy; see the file comment). */
export const BROWSER_MODELS = '/browser-models/';

/** The edge inference path of `model`, for proxy faults and log queries. */
export function inferPath(model) {
  return `/v1/models/${model}/infer`;
}

/** The known-answer vectors of `mlp` (`[{name, inputs, outputs, tolerance}]`). */
export async function mlpVectors() {
  return JSON.parse(await readFile(MLP_VECTORS, 'utf8'));
}

/** The known-answer vectors of `clf`. */
export async function clfVectors() {
  return JSON.parse(await readFile(CLF_VECTORS, 'utf8'));
}

/** Largest absolute difference between `outputs` (plain data) and a vector's known outputs. */
export function maxDiff(outputs, vector) {
  let max = 0;
  for (const [name, want] of Object.entries(vector.outputs)) {
    const got = outputs[name];
    assert.ok(got, `output ${name} missing: ${JSON.stringify(Object.keys(outputs))}`);
    assert.deepEqual(got.shape, want.shape, `output ${name} shape`);
    want.data.forEach((w, i) => {
      max = Math.max(max, Math.abs(got.data[i] - w));
    });
  }
  return max;
}

/**
 * Asserts `result` (from {@link RuntimeEnv#run}) answered from `source` with `fallbackReason`
 * (`null`: none) and, given a `vector`, within its tolerance. Returns the answer.
 */
export function assertAnswer(result, { source, fallbackReason = null, vector = null }, what) {
  assert.ok(result.ok, `${what}: failed with ${JSON.stringify(result)}`);
  const answer = result.value;
  assert.equal(answer.source, source, `${what}: source (${JSON.stringify({ ...answer, outputs: undefined })})`);
  assert.equal(answer.fallbackReason ?? null, fallbackReason, `${what}: fallbackReason`);
  if (vector) {
    const diff = maxDiff(answer.outputs, vector);
    assert.ok(diff <= vector.tolerance, `${what}: max diff ${diff} > tolerance ${vector.tolerance}`);
  }
  return answer;
}

/** Asserts `result` failed with `code` (and, when given, `failure`). */
export function assertFailure(result, code, what, { failure } = {}) {
  assert.equal(result.ok, false, `${what}: expected ${code}, got an answer ${JSON.stringify(result.value?.source)}`);
  assert.equal(result.code, code, `${what}: code (${result.message})`);
  if (failure !== undefined) assert.equal(result.failure, failure, `${what}: failure`);
  return result;
}

/** A running runtime world; see {@link RuntimeEnv.open}. */
export class RuntimeEnv extends World {
  /**
   * Packs the three models with a fresh key, assembles the app, serves it (edge inference on,
   * no rate limit) behind the proxy, launches Chromium (with WebGPU unless `webgpu: false`) and
   * opens the page.
   */
  static async open({ webgpu = true } = {}) {
    const env = new RuntimeEnv();
    env.webgpu = webgpu;
    try {
      env.dir = await mkdtemp(path.join(tmpdir(), 'tessera-runtime-e2e-'));
      const keyDir = path.join(env.dir, 'key');
      await tessera(['keygen', '--out', keyDir]);
      env.publicKeyFile = path.join(keyDir, 'tessera.pub.json');
      env.key = JSON.parse(await readFile(env.publicKeyFile, 'utf8'));
      const wrong = (await mlpVectors()).map((v) => ({
        ...v,
        outputs: Object.fromEntries(Object.entries(v.outputs).map(([k, t]) => [k, { ...t, data: t.data.map((x) => x + 1.0) }])),
      }));
      const wrongFile = path.join(env.dir, 'mlp-wrong.vectors.json');
      await writeFile(wrongFile, JSON.stringify(wrong));
      const pack = (out, name, model, vectors) => tessera([
        'pack', '--key', path.join(keyDir, 'tessera.key'), '--name', name, '--version', '1.0.0',
        '--test-vectors', vectors, '--out', out, `model.onnx=${model}`,
      ]);
      env.appDir = await assembleApp(env.dir);
      const browserModels = path.join(env.appDir, BROWSER_MODELS);
      env.artifacts = path.join(env.dir, 'artifacts');
      for (const [out, wrongVectors] of [[browserModels, wrongFile], [env.artifacts, MLP_VECTORS]]) {
        await pack(out, 'mlp', MLP, MLP_VECTORS);
        await pack(out, 'mlp-wrong', MLP, wrongVectors);
        await pack(out, 'clf', CLF, CLF_VECTORS);
      }
      env.server = await startServer({
        artifacts: env.artifacts,
        app: env.appDir,
        trust: [env.publicKeyFile],
        requestLog: path.join(env.dir, 'edge-requests.jsonl'),
        extraArgs: ['--infer-rate', '0'],
      });
      env.proxy = await startProxy(env.server.url);
      env.origin = env.proxy.url;
      env.browser = await launchBrowser({ args: webgpu ? WEBGPU_ARGS : [] });
      env.page = env.browser.page;
      await env.page.goto(`${env.origin}/index.html`, { waitUntil: 'load' });
      await env.page.waitForFunction(() => window.rtReady === true, null, { timeout: 10_000 });
    } catch (err) {
      env.pendingError = err;
    }
    return env;
  }

  /**
   * Creates runtime `id` in the page: `TesseraRuntime.create` with this world's edge, key,
   * {@link BROWSER_MODELS} and no service worker, plus `options` (`policy`, `workerUrl`,
   * `allowUnlistedOps`, …). Resolves `{ok: true}` or `{ok: false, code, …}`.
   */
  tryCreate(id, options = {}) {
    const base = { edgeUrl: this.origin, trustedKeys: [this.key], controlled: false, modelsBase: BROWSER_MODELS };
    return this.page.evaluate(([i, o]) => window.rt.create(i, o), [id, { ...base, ...options }]);
  }

  /** {@link RuntimeEnv#tryCreate}, asserting it succeeded. */
  async create(id, options = {}) {
    const created = await this.tryCreate(id, options);
    assert.ok(created.ok, `TesseraRuntime.create(${JSON.stringify(options)}) failed: ${JSON.stringify(created)}`);
  }

  /** `rt.load(model)` of runtime `id`: `{ok, value}` (the load report) or `{ok: false, code, …}`. */
  load(id, model, { timeoutMs = 30_000 } = {}) {
    return settle(this.page.evaluate(([i, m]) => window.rt.load(i, m), [id, model]), timeoutMs, `load(${model})`);
  }

  /**
   * `rt.run(model, inputs, options)` of runtime `id` (`inputs` with plain-array data, as the
   * vectors have them): `{ok, value: {outputs, source, fallbackReason?, timings}}` or
   * `{ok: false, code, failure, reason, message}`.
   */
  run(id, model, inputs, options = {}, { timeoutMs = 30_000 } = {}) {
    return settle(
      this.page.evaluate(([i, m, x, o]) => window.rt.run(i, m, x, o), [id, model, inputs, options]),
      timeoutMs,
      `run(${model}, ${JSON.stringify(options)})`,
    );
  }

  /** `rt.stats(model)` of runtime `id`: `{health, local, edge}`. */
  stats(id, model) {
    return this.page.evaluate(([i, m]) => window.rt.stats(i, m), [id, model]);
  }

  /** `rt.capabilities()` of runtime `id`. */
  capabilities(id) {
    return settle(this.page.evaluate((i) => window.rt.capabilities(i), id), 20_000, 'capabilities()');
  }

  /** Edge inference requests for `model` in the proxy log. */
  edgeRequests(model) {
    return this.proxy.requests(inferPath(model)).filter((e) => e.method === 'POST');
  }
}

/** The app directory: the runtime's web files and the scenario page (`runtime/app/`). */
async function assembleApp(dir) {
  const app = path.join(dir, 'app');
  await mkdir(app, { recursive: true });
  const missing = RUNTIME_FILES.filter((f) => !existsSync(path.join(WEB_DIR, f)));
  if (missing.length) {
    throw new Error(`web build incomplete: ${missing.join(', ')} missing in ${WEB_DIR} (run \`cargo xtask build-web\`)`);
  }
  for (const file of RUNTIME_FILES) await cp(path.join(WEB_DIR, file), path.join(app, file));
  for (const file of await readdir(path.join(HERE, 'app'))) await cp(path.join(HERE, 'app', file), path.join(app, file));
  return app;
}

/**
 * A scenario over the runtime, in a fresh {@link RuntimeEnv} (`options` go to
 * `RuntimeEnv.open`: `webgpu`; and to `worldScenario`: `timeout`).
 */
export function runtimeScenario(name, body, options = {}) {
  worldScenario((o) => RuntimeEnv.open(o), name, body, { grace: 20_000, ...options });
}
