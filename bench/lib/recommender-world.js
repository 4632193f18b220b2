// The world of the inference benches (items 6 and 8): the demo recommender (built once into
// target/demo-models/ by playwright/lib/demo.js) packed and signed with a throwaway key, a bench
// app directory (the tessera runtime's web build, onnxruntime-web's dist files from node_modules
// and the page module inference-page.js), and release `tessera serve` instances with edge
// inference on and no rate limit, on 127.0.0.1, no proxy. It measures nothing itself.

import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { demoModels, packDemoModels } from '../../playwright/lib/demo.js';
import { REPO_ROOT, tessera } from '../../playwright/lib/fixtures.js';
import { startServer } from '../../playwright/lib/server.js';
import { median } from './stats.js';

/** The model every inference bench runs. */
export const MODEL = 'recommender';

/** Where the page module lives (copied into the bench app as `/inference-page.js`). */
const PAGE_MODULE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'inference-page.js');

/** The tessera runtime's files the page needs, from the web build. */
const RUNTIME_FILES = [
  'tessera-runtime.js', 'tessera_runtime.js', 'tessera_runtime_bg.wasm', 'tessera-runtime-worker.js',
  'tessera_runtime_webgpu.js', 'tessera_runtime_webgpu_bg.wasm',
  'tessera_runtime_cpu.js', 'tessera_runtime_cpu_bg.wasm',
];

/**
 * onnxruntime-web files served under `/ort/`: the wasm build (`onnxruntime-web/wasm`) and the
 * WebGPU build (`onnxruntime-web/webgpu`, its asyncify wasm), each what the package's export
 * map resolves for `onnxruntime-web-use-extern-wasm`.
 */
export const ORT_FILES = {
  wasm: ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'],
  webgpu: ['ort.webgpu.min.mjs', 'ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'],
};

/** The audience of the JWT-protected edge. */
export const AUDIENCE = 'tessera-bench';

/**
 * The packed recommender: `dir` (temporary), `artifacts`, the throwaway key's files, the trusted
 * key object (`trustedKeys` entry), the known-answer `vectors` (tessera TestVector format),
 * `modelFile` and `vectorsFile` (the unpacked `recommender.onnx` and its vectors, in the demo
 * models directory) and `dispose()`. Sets `TESSERA_BIN` from `tesseraBin` when given
 * (playwright/lib resolves the CLI through it).
 * @param {{tesseraBin?: string}} options
 */
export async function packRecommender({ tesseraBin } = {}) {
  if (tesseraBin) process.env.TESSERA_BIN = tesseraBin;
  const models = await demoModels();
  const dir = await mkdtemp(path.join(tmpdir(), 'tessera-bench-infer-'));
  try {
    const packed = await packDemoModels(dir, models, [MODEL]);
    const vectors = JSON.parse(await readFile(path.join(models, `${MODEL}.vectors.json`), 'utf8'));
    const trustedKey = JSON.parse(await readFile(packed.publicKeyFile, 'utf8'));
    return {
      dir,
      ...packed,
      modelFile: path.join(models, `${MODEL}.onnx`),
      vectorsFile: path.join(models, `${MODEL}.vectors.json`),
      trustedKey,
      vectors,
      async dispose() {
        if (!process.env.TESSERA_E2E_KEEP) await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Assembles the bench app in `world.dir/app`: `/bench.html`, `/inference-page.js`, the runtime
 * files from `webDir` and the onnxruntime-web files under `/ort/`. Returns its path.
 */
export async function benchApp(world, webDir) {
  const app = path.join(world.dir, 'app');
  const missing = RUNTIME_FILES.filter((f) => !existsSync(path.join(webDir, f)));
  if (missing.length) {
    throw new Error(`web build incomplete: ${missing.join(', ')} missing in ${webDir} (run \`cargo xtask build-web\`)`);
  }
  await mkdir(path.join(app, 'ort'), { recursive: true });
  for (const f of RUNTIME_FILES) await copyFile(path.join(webDir, f), path.join(app, f));
  const dist = path.join(REPO_ROOT, 'node_modules', 'onnxruntime-web', 'dist');
  for (const f of Object.values(ORT_FILES).flat()) {
    if (!existsSync(path.join(dist, f))) throw new Error(`${path.join(dist, f)} missing: run npm ci (package-lock.json pins onnxruntime-web)`);
    await copyFile(path.join(dist, f), path.join(app, 'ort', f));
  }
  await copyFile(PAGE_MODULE, path.join(app, 'inference-page.js'));
  await writeFile(
    path.join(app, 'bench.html'),
    '<!doctype html>\n<meta charset="utf-8">\n<title>tessera inference bench</title>\n<p>inference bench</p>\n',
  );
  return app;
}

/**
 * Starts a release `tessera serve` over the world's artifacts with edge inference on (the
 * world's key trusted), the rate limiter off (`--infer-rate 0`) and `--infer-workers workers`;
 * with `auth`, bearer tokens of the world's key for {@link AUDIENCE} are required; `engine`
 * (`tract`, `wonnx`, `auto`) is passed as `--engine` when given (the server's default otherwise).
 * Resolves `{url, port, stderr(), stop()}` (see playwright/lib/server.js).
 * @param {object} world from {@link packRecommender}
 * @param {{app?: string, workers?: number, auth?: boolean, engine?: string}} options
 */
export function serveRecommender(world, { app, workers = 1, auth = false, engine } = {}) {
  const extraArgs = ['--infer-rate', '0', '--infer-workers', String(workers)];
  if (engine) extraArgs.push('--engine', engine);
  if (auth) extraArgs.push('--auth-key', world.publicKeyFile, '--auth-audience', AUDIENCE);
  return startServer({ artifacts: world.artifacts, app, trust: [world.publicKeyFile], extraArgs });
}

/** A bearer token for {@link AUDIENCE} signed with the world's key (`tessera token`), valid 1 h. */
export async function mintToken(world) {
  const out = await tessera(['token', '--key', world.privateKeyFile, '--aud', AUDIENCE, '--ttl', '1h', '--sub', 'bench']);
  return out.trim();
}

/** The edge request body (core's infer schema, base64 float32) for a known-answer vector. */
export function inferBody(vector) {
  const input = vector.inputs.features;
  const bytes = Buffer.from(Float32Array.from(input.data).buffer);
  return JSON.stringify({
    inputs: { features: { dtype: 'float32', shape: input.shape, data_b64: bytes.toString('base64') } },
  });
}

/** The expected `scores` of a known-answer vector. */
export function expectedScores(vector) {
  return vector.outputs.scores.data;
}

/** Largest absolute element-wise difference of two equally long number lists (Infinity otherwise). */
export function maxAbsDiff(a, b) {
  if (!a || !b || a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i += 1) max = Math.max(max, Math.abs(a[i] - b[i]));
  return Number.isNaN(max) ? Infinity : max;
}

/**
 * POSTs `body` to the world's infer endpoint at `url` and returns the parsed JSON answer;
 * rejects on a non-2xx status (with the edge's error code).
 */
export async function postInfer(url, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${url}/v1/models/${MODEL}/infer`, { method: 'POST', headers, body });
  const json = await response.json().catch(() => null);
  if (!response.ok) throw new Error(`POST ${url}/v1/models/${MODEL}/infer answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

/**
 * Per-round ratios `xs[i] / bases[i]` over the rounds where both were measured (arrays indexed
 * by round, holes allowed): on a shared, noisy machine, two contenders measured back to back in
 * one round see the same background load, so their ratio is steadier than the ratio of medians.
 * @param {Array<number|undefined>} xs
 * @param {Array<number|undefined>} bases
 * @returns {number[]}
 */
export function pairedRatios(xs, bases) {
  const ratios = [];
  for (let i = 0; i < Math.min(xs.length, bases.length); i += 1) {
    if (Number.isFinite(xs[i]) && Number.isFinite(bases[i]) && bases[i] > 0) ratios.push(xs[i] / bases[i]);
  }
  return ratios;
}

/** Median of {@link pairedRatios} (NaN when no round has both). */
export function pairedRatio(xs, bases) {
  return median(pairedRatios(xs, bases));
}
