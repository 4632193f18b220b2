// Browser side of the inference bench (bench/inference.js), served as `/inference-page.js` from
// the bench app and imported by the harness into a freshly loaded page. One contender per page
// load: `first()` measures create → load → first inference with performance.now(), then
// `steady()` times repeated runs and `answers()` returns the outputs for the known-answer inputs.
// Contenders: the tessera runtime running locally on one forced engine (`engine: 'webgpu'`:
// wonnx on WebGPU; `engine: 'cpu'`: tract on wasm32 + SIMD; both in its worker, files fetched
// and verified shard by shard from the HTTP cache: no service worker) or on the edge
// (`edge-only`), and onnxruntime-web's wasm and WebGPU builds on the same model bytes. Every
// answer names the engine that computed it; an answer from another engine than the contender
// claims fails the step with an error starting `engine-mismatch:` (the harness never tolerates it).

const now = () => performance.now();
const MODEL = 'recommender';

/** The contender loaded by `first()`: `{run(features) → {scores: number[], computeMs}}`. */
let current = null;

/**
 * Creates contender `kind` ('tessera-webgpu' | 'tessera-cpu' | 'tessera-edge' | 'ort-wasm' |
 * 'ort-webgpu') from scratch and runs its first inference on `features` (64 numbers). `engine`
 * is the engine the contender claims (an answer's `engine`: 'wonnx-webgpu', 'tract-wasm', the
 * edge's 'tract-native' / 'wonnx-wgpu'; for onnxruntime-web the execution provider asked for,
 * 'ort-wasm' / 'ort-webgpu', which it does not report per answer). Resolves the phase times in
 * ms, the first answer's scores and engine, and what the contender reported on loading.
 * @param {{kind: string, engine: string, features: number[], trustedKeys?: object[]}} args
 */
export async function first({ kind, engine, features, trustedKeys }) {
  current = null;
  const open = kind.startsWith('tessera') ? openTessera : openOrt;
  const { contender, phases } = await open(kind, engine, trustedKeys);
  const started = now();
  const answer = await contender.run(features);
  phases.firstRun = now() - started;
  phases.firstCompute = answer.computeMs;
  phases.total = Object.entries(phases)
    .filter(([k]) => ['create', 'load', 'firstRun'].includes(k))
    .reduce((sum, [, v]) => sum + v, 0);
  current = contender;
  return { phases, scores: answer.scores, engine: answer.engine, info: contender.info };
}

/**
 * `warmup` untimed runs, then `n` timed runs of the loaded contender: per-run wall time (ms, in
 * the page, around the API call) and the compute time the contender reports (null when none).
 */
export async function steady({ features, n, warmup }) {
  if (!current) throw new Error('no contender loaded: call first() in this page');
  const wall = [];
  const compute = [];
  for (let i = 0; i < warmup + n; i += 1) {
    const started = now();
    const answer = await current.run(features);
    const ms = now() - started;
    if (i >= warmup) {
      wall.push(ms);
      compute.push(answer.computeMs);
    }
  }
  return { wall, compute };
}

/**
 * The loaded contender's scores for each input of `inputs` (lists of 64 numbers), and the
 * engines that answered (every one checked against the claim by `run`).
 */
export async function answers(inputs) {
  if (!current) throw new Error('no contender loaded: call first() in this page');
  const scores = [];
  const engines = new Set();
  for (const features of inputs) {
    const answer = await current.run(features);
    scores.push(answer.scores);
    engines.add(answer.engine);
  }
  return { scores, engines: [...engines] };
}

/**
 * The WebGPU adapter this page gets: `{vendor, architecture, device, description,
 * isFallbackAdapter, legacyIsFallbackAdapter}` (the last: `GPUAdapter.isFallbackAdapter`), or null.
 */
export async function adapterInfo() {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) return null;
  const info = adapter.info ?? {};
  const { vendor = '', architecture = '', device = '', description = '' } = info;
  return {
    vendor, architecture, device, description,
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
    // Chromium moved the flag to GPUAdapterInfo; the old attribute may be missing.
    legacyIsFallbackAdapter: adapter.isFallbackAdapter ?? null,
  };
}

/** The engine each local tessera contender forces (`TesseraRuntime.create({engine})`). */
const FORCED_ENGINE = { 'tessera-webgpu': 'webgpu', 'tessera-cpu': 'cpu' };

/**
 * The tessera runtime. 'tessera-webgpu' and 'tessera-cpu' load (verify, self-test) the model in
 * the worker on the engine they force; the load report and every answer must name `engine`.
 */
async function openTessera(kind, engine, trustedKeys) {
  const local = kind !== 'tessera-edge';
  const policy = local ? 'local-only' : 'edge-only';
  const options = { edgeUrl: location.origin, trustedKeys, controlled: false, policy };
  if (local) {
    if (!FORCED_ENGINE[kind]) throw new Error(`unknown tessera contender ${kind}`);
    options.engine = FORCED_ENGINE[kind];
  }
  const started = now();
  const { TesseraRuntime } = await import('/tessera-runtime.js');
  const rt = await TesseraRuntime.create(options);
  const phases = { create: now() - started, load: 0 };
  let report = null;
  if (local) {
    const loadStarted = now();
    report = await rt.load(MODEL);
    phases.load = now() - loadStarted;
    Object.assign(phases, report.timings);
    if (report.engine !== engine) {
      throw new Error(`engine-mismatch: ${kind}: the model loaded on ${report.engine} (reason ${report.engineReason}), not ${engine}`);
    }
  }
  const contender = {
    info: report
      ? {
        fileBytes: report.fileBytes, source: report.source, vectorsPassed: report.vectorsPassed,
        adapterIsFallback: report.adapterIsFallback, engine: report.engine, engineReason: report.engineReason,
        calibration: report.calibration,
      }
      : {},
    async run(features) {
      const r = await rt.run(MODEL, { features: { dtype: 'float32', shape: [1, 64], data: Float32Array.from(features) } }, { policy });
      if (r.source !== (local ? 'local' : 'edge')) throw new Error(`${kind}: answer came from ${r.source} (${r.fallbackReason})`);
      if (r.engine !== engine) throw new Error(`engine-mismatch: ${kind}: answer computed by ${r.engine}, not ${engine}`);
      return { scores: Array.from(r.outputs.scores.data), computeMs: r.timings.compute, engine: r.engine };
    },
  };
  return { contender, phases };
}

/**
 * onnxruntime-web: `ort-wasm` imports `/ort/ort.wasm.min.mjs` (wasm EP), `ort-webgpu` imports
 * `/ort/ort.webgpu.min.mjs` (WebGPU EP). The model file comes from `/models/recommender/model.onnx`
 * (the edge assembles it from the shards; the HTTP cache revalidates it). One thread: the page
 * is not cross-origin isolated, so no SharedArrayBuffer.
 */
async function openOrt(kind, engine) {
  if (engine !== kind) throw new Error(`engine-mismatch: ${kind} claims engine ${engine}: onnxruntime-web contenders are their EP`);
  const started = now();
  const ort = await import(kind === 'ort-webgpu' ? '/ort/ort.webgpu.min.mjs' : '/ort/ort.wasm.min.mjs');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = '/ort/';
  const imported = now() - started;
  const fetchStarted = now();
  const response = await fetch(`/models/${MODEL}/model.onnx`);
  if (!response.ok) throw new Error(`model.onnx answered HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const fetchMs = now() - fetchStarted;
  const sessionStarted = now();
  const ep = kind === 'ort-webgpu' ? 'webgpu' : 'wasm';
  const session = await ort.InferenceSession.create(bytes, { executionProviders: [ep] });
  const sessionMs = now() - sessionStarted;
  const phases = { create: imported, load: fetchMs + sessionMs, fetchMs, sessionMs };
  const contender = {
    info: { fileBytes: bytes.length, executionProvider: ep },
    async run(features) {
      const feeds = { features: new ort.Tensor('float32', Float32Array.from(features), [1, 64]) };
      const runStarted = now();
      const out = await session.run(feeds);
      const computeMs = now() - runStarted;
      return { scores: Array.from(out.scores.data), computeMs, engine: kind };
    },
  };
  return { contender, phases };
}
