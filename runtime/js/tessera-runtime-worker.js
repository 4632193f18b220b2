// tessera runtime worker: a module dedicated worker that runs verified models with wonnx on
// WebGPU (`tessera_runtime_webgpu.js`) or with tract on the CPU (`tessera_runtime_cpu.js`), each
// engine imported the first time the runtime builds a model on it. It holds no policy: the page
// (tessera-runtime.js) decides where requests run, the runtime's wasm which engine runs a model.
//
// Messages in:  {id, op: 'init', module, options, cpuUrl?, webgpuUrl?}   module: the compiled
//               WebAssembly.Module; cpuUrl / webgpuUrl: the engines' glue (default beside this
//               file)
//               {id, op: 'capabilities'}
//               {id, op: 'load', name}
//               {id, op: 'run', name, inputs}        inputs: {name: {dtype, shape, data}}
// Messages out: {id, ok: true, result}               (typed-array buffers are transferred)
//               {id, ok: false, error: {code, fault, message}}
//               {id, crashed: true, error}            the wasm trapped: this worker closes itself
import init, { LocalRuntime } from './tessera_runtime.js';

/**
 * The WebGPU errors of the devices wonnx creates (in the WebGPU engine's module: the wrap below is
 * on the prototypes this worker shares with it). wonnx 0.5 requests its own device and attaches
 * no error handler, and a WGSL shader the browser rejects raises nothing: its pipelines are
 * invalid and runs return zeros. So before wonnx runs, `GPUAdapter.prototype.requestDevice` is
 * wrapped: every device it returns is numbered (in creation order) and gets an
 * `uncapturederror` listener and a `lost` watcher, and every shader module created on it has its
 * `getCompilationInfo()` errors recorded. The runtime (`LocalRuntime.watchGpu`) notes the numbers
 * around a session build and, after the build and after each run, `take`s the errors of that
 * session's devices. `null` where this scope has no WebGPU.
 */
function gpuMonitor(scope) {
  const adapterProto = scope.GPUAdapter?.prototype;
  const deviceProto = scope.GPUDevice?.prototype;
  if (!adapterProto?.requestDevice || !deviceProto?.createShaderModule) return null;
  const MAX_ERRORS = 32; // per device: a broken pipeline reports again on every dispatch
  const devices = new Map(); // number → {device: WeakRef<GPUDevice>, errors, pending}
  const entries = new WeakMap(); // GPUDevice → its entry
  let next = 0;
  const record = (entry, kind, message) => {
    if (entry.errors.length < MAX_ERRORS) entry.errors.push({ kind, message: String(message) });
  };
  const kindOf = (error) => ({
    GPUValidationError: 'validation',
    GPUOutOfMemoryError: 'out-of-memory',
    GPUInternalError: 'internal',
  })[error?.constructor?.name] ?? 'validation';

  const requestDevice = adapterProto.requestDevice;
  adapterProto.requestDevice = async function (...args) {
    const device = await requestDevice.apply(this, args);
    const entry = { device: new WeakRef(device), errors: [], pending: new Set() };
    devices.set(next, entry);
    next += 1;
    entries.set(device, entry);
    device.addEventListener('uncapturederror', (event) =>
      record(entry, kindOf(event.error), event.error?.message ?? 'unknown WebGPU error'));
    device.lost.then((info) => {
      if (info.reason !== 'destroyed') record(entry, 'lost', `${info.reason}: ${info.message}`);
    });
    return device;
  };
  const createShaderModule = deviceProto.createShaderModule;
  deviceProto.createShaderModule = function (descriptor) {
    const module = createShaderModule.call(this, descriptor);
    const entry = entries.get(this);
    if (entry && typeof module.getCompilationInfo === 'function') {
      const label = descriptor?.label || 'shader';
      const checked = module.getCompilationInfo().then((info) => {
        for (const m of info.messages) {
          if (m.type === 'error') record(entry, 'shader', `${label}:${m.lineNum}:${m.linePos}: ${m.message}`);
        }
      }, () => {}).finally(() => entry.pending.delete(checked));
      entry.pending.add(checked);
    }
    return module;
  };

  return {
    mark: () => next,
    async take(from, to) {
      const picked = [];
      for (let n = from; n < to; n += 1) if (devices.has(n)) picked.push(devices.get(n));
      await Promise.all(picked.map((entry) => {
        const work = [...entry.pending];
        const device = entry.device.deref();
        if (device) work.push(device.queue.onSubmittedWorkDone().catch(() => {}));
        // A lost device may never settle its work: wait a bounded time.
        return Promise.race([Promise.all(work), new Promise((r) => setTimeout(r, 2000))]);
      }));
      // `uncapturederror` events are dispatched as tasks: let the queued ones run first.
      await new Promise((r) => setTimeout(r, 0));
      return picked.flatMap((entry) => entry.errors.splice(0));
    },
  };
}

/**
 * An engine module's loader (`className`: `CpuSession` of `tessera_runtime_cpu.js`, `GpuSession`
 * of `tessera_runtime_webgpu.js`): imports its glue and instantiates its wasm once, the first time
 * the runtime asks (never when the other engine runs everything); a failed attempt (offline, say)
 * is forgotten so the next load tries again.
 */
function engineModule(url, className) {
  let loading = null;
  return {
    load() {
      if (!loading) {
        loading = (async () => {
          const engine = await import(url);
          await engine.default();
          return engine[className];
        })();
        loading.catch(() => { loading = null; });
      }
      return loading;
    },
  };
}

const gpuErrors = gpuMonitor(self);
let runtime = null;
// The likely engine's module, loading since `init` (never awaited by a load, which joins it).
let warming = Promise.resolve();

function transferables(value, out = []) {
  if (ArrayBuffer.isView(value)) out.push(value.buffer);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) transferables(v, out);
  return out;
}

function errorOf(e) {
  return {
    code: (e && e.code) || 'js-error',
    fault: e && 'fault' in e ? e.fault : 'local-run-failed',
    message: String((e && e.message) || e),
  };
}

async function handle(m) {
  switch (m.op) {
    case 'init':
      await init({ module_or_path: m.module });
      runtime = new LocalRuntime(m.options);
      if (gpuErrors) runtime.watchGpu(gpuErrors);
      runtime.useCpuEngine(engineModule(m.cpuUrl ?? new URL('./tessera_runtime_cpu.js', import.meta.url).href, 'CpuSession'));
      runtime.useWebgpuEngine(engineModule(m.webgpuUrl ?? new URL('./tessera_runtime_webgpu.js', import.meta.url).href, 'GpuSession'));
      // A worker started online gets its engine while online (a later load may be offline).
      warming = runtime.warmEngine().catch(() => {});
      return true;
    case 'capabilities':
      // Answered once the likely engine is loaded (or failed to), so that a page that asked
      // online can go offline and still load its models on it.
      await warming;
      return runtime.capabilities();
    case 'load':
      return runtime.load(m.name);
    case 'run':
      return runtime.run(m.name, m.inputs);
    default:
      throw Object.assign(new Error(`unknown op ${m.op}`), { code: 'op-unknown', fault: null });
  }
}

// One message at a time, in order: `init` finishes before the first `load`, and runs share
// the one GPU queue. `queueMs` in a run's result is the time it waited here.
let queue = Promise.resolve();
self.onmessage = (event) => {
  const received = performance.now();
  queue = queue.then(() => process(event.data || {}, received));
};

async function process(m, received) {
  try {
    if (m.op !== 'init' && !runtime) {
      throw Object.assign(new Error('the runtime worker is not initialised'), {
        code: 'worker-not-ready', fault: 'worker-crashed',
      });
    }
    const started = performance.now();
    const result = await handle(m);
    if (m.op === 'run') result.queueMs = started - received;
    self.postMessage({ id: m.id, ok: true, result }, transferables(result));
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) {
      // A wasm trap (a wonnx panic is `unreachable`): the instance's state is undefined.
      self.postMessage({ id: m.id, crashed: true, error: { code: 'worker-crashed', fault: 'worker-crashed', message: String(e) } });
      self.close();
      return;
    }
    self.postMessage({ id: m.id, ok: false, error: errorOf(e) });
  }
}
