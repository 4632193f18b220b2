// tessera runtime, page side: runs a model in the browser (in a dedicated worker, with wonnx on
// WebGPU or tract on the CPU) or on the edge server, as the fallback router decides. ES module,
// no dependencies.
//
//   import { TesseraRuntime } from './tessera-runtime.js';
//   const rt = await TesseraRuntime.create({ edgeUrl, policy: 'prefer-local', token, trustedKeys });
//   await rt.load('mlp');
//   const { outputs, source, engine, fallbackReason, timings } =
//     await rt.run('mlp', { x: { dtype: 'float32', shape: [1, 16], data: new Float32Array(16) } });
//
// Every decision (where to run, what to do after a failure, when to re-probe) comes from the
// wasm `FallbackRouter` (tessera_core::fallback); this file only carries them out. The page and
// the worker share one compiled wasm module: the page instantiates it for the router and posts
// the module to the worker, which instantiates it for the runtime.
import init, { FallbackRouter } from './tessera_runtime.js';

/**
 * An error from the runtime. `code` is stable; `failure` is the fallback fault code this error
 * counts as (`null` for the caller's own mistakes, which no fallback fixes); `reason` is the
 * router's reason when no side could answer.
 */
export class TesseraRuntimeError extends Error {
  constructor(code, message, { failure = null, reason = null } = {}) {
    super(message);
    this.name = 'TesseraRuntimeError';
    this.code = code;
    this.failure = failure;
    this.reason = reason;
  }
}

const now = () => performance.now();
const DEFAULT_TIMEOUT_MS = 30000;

export class TesseraRuntime {
  #router;
  #module;
  #options;
  #worker = null;
  #pending = new Map();
  #nextId = 1;
  #loads = new Map();

  /**
   * Compiles the runtime wasm once, instantiates the router on the page and prepares the worker.
   * Options: edgeUrl (origin of `tessera serve`), policy (default 'prefer-local'), token (edge
   * bearer token), trustedKeys (manifest signing keys), threshold, modelsBase ('/models/'),
   * controlled (default: whether a service worker controls the page), engine ('auto' (default):
   * WebGPU on a real GPU when it runs the model and a calibration finds it faster, else the CPU
   * engine; 'webgpu'; 'cpu'), timeoutMs, workerUrl, wasmUrl, cpuUrl and webgpuUrl (the CPU
   * engine's `tessera_runtime_cpu.js` and the WebGPU engine's `tessera_runtime_webgpu.js`,
   * each default beside the worker script, imported only when a model is built on that engine),
   * allowUnlistedOps and
   * calibrateSoftwareAdapters (testing only: let the worker build WebGPU sessions for operators
   * not verified in browsers, to observe how WebGPU fails them; calibrate on a software adapter).
   */
  static async create(options = {}) {
    const wasmUrl = options.wasmUrl ?? new URL('./tessera_runtime_bg.wasm', import.meta.url);
    const response = await fetch(wasmUrl);
    if (!response.ok) throw new TesseraRuntimeError('fetch-failed', `fetching ${wasmUrl} answered HTTP ${response.status}`);
    const module = await WebAssembly.compile(await response.arrayBuffer());
    await init({ module_or_path: module });
    let router;
    try {
      router = new FallbackRouter(options.policy ?? 'prefer-local');
    } catch (e) {
      throw new TesseraRuntimeError(e.code ?? 'policy-unknown', e.message);
    }
    return new TesseraRuntime(router, module, options);
  }

  constructor(router, module, options) {
    this.#router = router;
    this.#module = module;
    this.#options = options;
    // Back online, faults the network caused (`local-offline`) clear at once, not after the
    // 60 s retry of other transient faults.
    globalThis.addEventListener?.('online', () => this.#router.networkChanged(true, now()));
    globalThis.addEventListener?.('offline', () => this.#router.networkChanged(false, now()));
  }

  /**
   * WebGPU in the worker: `{isFallbackAdapter, limits}`; rejects with no-webgpu / no-adapter.
   * Answers once the worker has loaded the engine module its models will most likely use (the
   * worker starts loading it when it starts), so a page can go offline after it.
   */
  capabilities() {
    return this.#call('capabilities', {});
  }

  /**
   * Loads, verifies and self-tests `name` in the worker (once; concurrent calls share it) and
   * records the local health: 'healthy', or the failure's fault (op-unsupported,
   * local-self-test-failed, webgpu-shader-compile-failed, …).
   */
  load(name) {
    let loading = this.#loads.get(name);
    if (!loading) {
      loading = this.#call('load', { name }).then(
        (report) => {
          this.#router.setHealth(name, 'healthy', now());
          return report;
        },
        (error) => {
          this.#loads.delete(name);
          const e = offlineCause(name, error);
          if (e.failure) this.#router.setHealth(name, e.failure, now());
          throw e;
        },
      );
      this.#loads.set(name, loading);
    }
    return loading;
  }

  /**
   * Runs `name` on `inputs` ({input: {dtype, shape, data}}) where the policy decides. Resolves to
   * `{outputs, source: 'local'|'edge', fallbackReason?, timings: {queue, load, compute, network,
   * total}}` (milliseconds); output `data` is a Float32Array, Int32Array or BigInt64Array.
   */
  async run(name, inputs, { policy, timeoutMs, signal } = {}) {
    const started = now();
    const timeout = timeoutMs ?? this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const decision = this.#decide(name, policy);
    if (decision.plan === 'unavailable') {
      throw unavailable(name, decision.reason, decision.policy);
    }
    if (decision.plan === 'race') return this.#race(name, inputs, timeout, signal, started);
    let { plan, reason } = decision;
    let side = decision.start[0];
    for (;;) {
      const timings = { queue: 0, load: 0, compute: 0, network: 0, total: 0 };
      try {
        const answer = await this.#attempt(side, name, inputs, timeout, signal, timings);
        this.#router.recordAnswer(name, side, answer.latency, now());
        return finish(answer, side, reason, timings, started);
      } catch (e) {
        if (!e.failure) throw e;
        this.#router.recordFailure(name, e.failure, now());
        const next = FallbackRouter.afterFailure(plan, e.failure);
        if (next.plan === 'unavailable') {
          e.reason = next.reason;
          throw e;
        }
        ({ plan, reason } = next);
        side = next.start[0];
      }
    }
  }

  /** `{health, local, edge}`: the local health code and each side's latency statistics. */
  stats(name) {
    return this.#router.stats(name, now());
  }

  /** Stops the worker (a later call starts a new one). */
  close() {
    if (this.#worker) this.#worker.terminate();
    this.#worker = null;
    this.#loads.clear();
  }

  #decide(name, policy) {
    try {
      return this.#router.decide(name, policy, navigator.onLine, now());
    } catch (e) {
      throw new TesseraRuntimeError(e.code ?? 'policy-unknown', e.message);
    }
  }

  #attempt(side, name, inputs, timeout, signal, timings) {
    return side === 'local'
      ? this.#local(name, inputs, timeout, timings)
      : this.#edge(name, inputs, timeout, signal, timings);
  }

  async #race(name, inputs, timeout, signal, started) {
    const cancel = new AbortController();
    const onAbort = () => cancel.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    return new Promise((resolve, reject) => {
      let done = false;
      let reason = null;
      let failed = 0;
      const settle = (side, timings) => (answer) => {
        if (done) return;
        done = true;
        // The edge request is aborted; a local run cannot be stopped and its answer is dropped.
        cancel.abort();
        this.#router.recordAnswer(name, side, answer.latency, now());
        resolve(finish(answer, side, reason, timings, started));
      };
      const fail = (e) => {
        if (done) return;
        if (!e.failure) {
          done = true;
          cancel.abort();
          reject(e);
          return;
        }
        this.#router.recordFailure(name, e.failure, now());
        const next = FallbackRouter.afterFailure('race', e.failure);
        failed += 1;
        if (failed === 2 || next.plan === 'unavailable') {
          done = true;
          e.reason = next.reason;
          reject(e);
        } else {
          reason = next.reason;
        }
      };
      for (const side of ['local', 'edge']) {
        const timings = { queue: 0, load: 0, compute: 0, network: 0, total: 0 };
        this.#attempt(side, name, inputs, timeout, cancel.signal, timings)
          .then(settle(side, timings), fail);
      }
    }).finally(() => signal?.removeEventListener('abort', onAbort));
  }

  async #local(name, inputs, timeout, timings) {
    const loadStarted = now();
    await withTimeout(this.load(name), timeout, 'local-timeout');
    timings.load = now() - loadStarted;
    const started = now();
    // Inputs are copied, not transferred: the caller's buffers may still go to the edge.
    let result;
    try {
      result = await withTimeout(this.#call('run', { name, inputs }), timeout, 'local-timeout');
    } catch (e) {
      // WebGPU broke the session (the worker dropped it): the next local attempt loads anew.
      if (e.failure?.startsWith('webgpu-')) this.#loads.delete(name);
      throw e;
    }
    const latency = now() - started;
    timings.compute = result.computeMs;
    timings.queue = result.queueMs ?? 0;
    return { outputs: result.outputs, engine: result.engine, latency };
  }

  async #edge(name, inputs, timeout, signal, timings) {
    const { edgeUrl, token } = this.#options;
    if (!edgeUrl) {
      throw new TesseraRuntimeError('edge-unconfigured', 'no edgeUrl was given', { failure: 'edge-unreachable' });
    }
    const body = JSON.stringify({
      inputs: Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, toWire(k, t)])),
    });
    const headers = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; abort.abort(); }, timeout);
    const onAbort = () => abort.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const url = `${edgeUrl.replace(/\/$/, '')}/v1/models/${encodeURIComponent(name)}/infer`;
    const started = now();
    try {
      let response;
      try {
        response = await fetch(url, { method: 'POST', headers, body, signal: abort.signal });
      } catch (e) {
        if (timedOut) throw new TesseraRuntimeError('edge-timeout', `${url} did not answer in ${timeout} ms`, { failure: 'edge-timeout' });
        if (signal?.aborted) throw new TesseraRuntimeError('aborted', 'the request was aborted');
        throw new TesseraRuntimeError('edge-unreachable', `${url}: ${e.message}`, { failure: 'edge-unreachable' });
      }
      const json = await response.json().catch(() => null);
      if (!response.ok) {
        const code = json?.error?.code ?? `http-${response.status}`;
        const message = json?.error?.message ?? `${url} answered HTTP ${response.status}`;
        // 400: the request itself is wrong; the browser would refuse it too.
        throw new TesseraRuntimeError(code, message, { failure: response.status === 400 ? null : 'edge-rejected' });
      }
      if (!json) {
        if (timedOut) throw new TesseraRuntimeError('edge-timeout', `${url} did not answer in ${timeout} ms`, { failure: 'edge-timeout' });
        if (signal?.aborted) throw new TesseraRuntimeError('aborted', 'the request was aborted');
        throw new TesseraRuntimeError('edge-unreachable', `${url}: the answer's body could not be read`, { failure: 'edge-unreachable' });
      }
      const latency = now() - started;
      const t = json.timings ?? {};
      timings.queue = t.queue_ms ?? 0;
      timings.compute = t.compute_ms ?? 0;
      timings.network = Math.max(0, latency - (t.total_ms ?? 0));
      return { outputs: fromWire(json.outputs ?? {}), engine: json.engine ?? null, latency };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #spawn() {
    const url = this.#options.workerUrl ?? new URL('./tessera-runtime-worker.js', import.meta.url);
    const worker = new Worker(url, { type: 'module' });
    worker.onmessage = (event) => {
      const m = event.data || {};
      if (m.crashed) {
        this.#crash(m.error?.message ?? 'the runtime worker trapped');
        return;
      }
      const pending = this.#pending.get(m.id);
      if (!pending) return;
      this.#pending.delete(m.id);
      if (m.ok) pending.resolve(m.result);
      else pending.reject(new TesseraRuntimeError(m.error.code, m.error.message, { failure: m.error.fault }));
    };
    worker.onerror = (event) => {
      event.preventDefault?.();
      this.#crash(event.message || 'the runtime worker failed');
    };
    const controlled = this.#options.controlled ?? Boolean(globalThis.navigator?.serviceWorker?.controller);
    const options = { trustedKeys: this.#options.trustedKeys ?? [], controlled };
    if (this.#options.threshold) options.threshold = this.#options.threshold;
    if (this.#options.modelsBase) options.modelsBase = this.#options.modelsBase;
    if (this.#options.engine) options.engine = this.#options.engine;
    if (this.#options.allowUnlistedOps) options.allowUnlistedOps = true;
    if (this.#options.calibrateSoftwareAdapters) options.calibrateSoftwareAdapters = true;
    const absolute = (url) => (url ? String(new URL(url, location.href)) : null);
    const cpuUrl = absolute(this.#options.cpuUrl);
    const webgpuUrl = absolute(this.#options.webgpuUrl);
    worker.postMessage({ id: 0, op: 'init', module: this.#module, options, cpuUrl, webgpuUrl });
    this.#pending.set(0, {
      resolve() {},
      reject: (e) => {
        // A bad configuration fails every later call with the same error.
        this.#initError = e;
      },
    });
    return worker;
  }

  #initError = null;

  /** The worker died: fail everything it had in hand as worker-crashed and forget it. */
  #crash(message) {
    if (this.#worker) this.#worker.terminate();
    this.#worker = null;
    this.#loads.clear();
    this.#pending.delete(0); // the init call: a crash is not a configuration error
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      p.reject(new TesseraRuntimeError('worker-crashed', message, { failure: 'worker-crashed' }));
    }
  }

  #call(op, payload) {
    if (this.#initError) return Promise.reject(this.#initError);
    if (!this.#worker) this.#worker = this.#spawn();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, op, ...payload });
    });
  }
}

function finish(answer, source, reason, timings, started) {
  timings.total = now() - started;
  const result = { outputs: answer.outputs, source, engine: answer.engine, timings };
  if (reason) result.fallbackReason = reason;
  return result;
}

/** No side can answer `name` under `policy`: said in the policy's terms (local-only: no edge). */
function unavailable(name, reason, policy) {
  let where = 'anywhere';
  if (policy === 'local-only') where = 'in this browser';
  else if (policy === 'edge-only') where = 'on the edge';
  const offline = reason === 'local-offline' || reason === 'offline' ? ' while the browser is offline' : '';
  return new TesseraRuntimeError(
    'inference-unavailable',
    `model ${name} cannot run ${where} now${offline} (${reason})`,
    { reason },
  );
}

/**
 * A load that failed to fetch (the model's files, or the worker's own script: the worker then
 * fails to start, which reads as `worker-crashed`) while the browser is offline is the
 * network's fault, not the runtime's: it becomes `local-offline`, which clears when the
 * browser is back online.
 */
function offlineCause(name, e) {
  const offline = globalThis.navigator?.onLine === false;
  if (!offline || (e.failure !== 'local-load-failed' && e.failure !== 'worker-crashed')) return e;
  return new TesseraRuntimeError(
    'local-offline',
    `model ${name} cannot be loaded while the browser is offline (${e.code}: ${e.message})`,
    { failure: 'local-offline' },
  );
}

function withTimeout(promise, ms, code) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new TesseraRuntimeError(code, `no answer in ${ms} ms`, { failure: code })),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** An input in the edge's JSON schema: typed arrays as base64 little-endian bytes. */
function toWire(name, tensor) {
  const { dtype, shape, data } = tensor;
  if (ArrayBuffer.isView(data)) {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let text = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return { dtype, shape, data_b64: btoa(text) };
  }
  if (Array.isArray(data)) return { dtype, shape, data };
  throw new TesseraRuntimeError('request-malformed', `input ${name}: data must be a typed array or an array`);
}

/** Edge outputs (JSON numbers) as typed arrays, like local outputs. */
function fromWire(outputs) {
  const typed = {
    float32: (d) => Float32Array.from(d),
    int32: (d) => Int32Array.from(d),
    int64: (d) => BigInt64Array.from(d, (v) => BigInt(Math.round(v))),
  };
  return Object.fromEntries(Object.entries(outputs).map(([k, t]) => [
    k,
    { dtype: t.dtype, shape: t.shape, data: (typed[t.dtype] ?? ((d) => d))(t.data) },
  ]));
}
