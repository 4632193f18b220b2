// tessera runtime worker: a module dedicated worker that runs verified models with wonnx on
// WebGPU. It holds no policy: the page (tessera-runtime.js) decides where requests run.
//
// Messages in:  {id, op: 'init', module, options}   module: the compiled WebAssembly.Module
//               {id, op: 'capabilities'}
//               {id, op: 'load', name}
//               {id, op: 'run', name, inputs}        inputs: {name: {dtype, shape, data}}
// Messages out: {id, ok: true, result}               (typed-array buffers are transferred)
//               {id, ok: false, error: {code, fault, message}}
//               {id, crashed: true, error}            the wasm trapped: this worker closes itself
import init, { LocalRuntime } from './tessera_runtime.js';

let runtime = null;

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
      return true;
    case 'capabilities':
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
