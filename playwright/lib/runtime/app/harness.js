// The runtime scenarios' page: `window.rt` drives TesseraRuntime instances by id and answers in
// plain data (typed arrays as number arrays, errors as {code, failure, reason, message}) so that
// the scenarios can assert on it from node. No service worker: the runtime fetches shards itself.
import { TesseraRuntime } from '/tessera-runtime.js';

const runtimes = new Map();

/**
 * Output tensors with plain-array data; `array` names the typed array the runtime answered
 * with and `exact` has every value as a decimal string (an int64 beyond 2^53 exactly).
 */
function plainOutputs(outputs) {
  return Object.fromEntries(Object.entries(outputs).map(([name, t]) => [
    name,
    {
      dtype: t.dtype, shape: t.shape, data: Array.from(t.data, Number),
      array: t.data?.constructor?.name ?? null, exact: Array.from(t.data, String),
    },
  ]));
}

/**
 * Inputs as the runtime takes them: float32 data as Float32Array; int64 data given as decimal
 * strings as BigInt64Array (every bit).
 */
function typedInputs(inputs) {
  const typed = (t) => {
    if (t.dtype === 'float32') return Float32Array.from(t.data);
    if (t.dtype === 'int64' && t.data.some((v) => typeof v === 'string')) return BigInt64Array.from(t.data, BigInt);
    return t.data;
  };
  return Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, { ...t, data: typed(t) }]));
}

/** `{ok: true, value}` or `{ok: false, code, failure, reason, message}`. */
async function attempt(f) {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    return { ok: false, code: e.code ?? null, failure: e.failure ?? null, reason: e.reason ?? null, message: String(e.message ?? e) };
  }
}

function get(id) {
  const rt = runtimes.get(id);
  if (!rt) throw new Error(`no runtime ${id}`);
  return rt;
}

window.rt = {
  create: (id, options) => attempt(async () => {
    runtimes.set(id, await TesseraRuntime.create(options));
    return true;
  }),
  capabilities: (id) => attempt(() => get(id).capabilities()),
  load: (id, model) => attempt(() => get(id).load(model)),
  run: async (id, model, inputs, options) => {
    const result = await attempt(() => get(id).run(model, typedInputs(inputs), options));
    if (result.ok) result.value = { ...result.value, outputs: plainOutputs(result.value.outputs) };
    return result;
  },
  stats: (id, model) => get(id).stats(model),
  online: () => navigator.onLine,
};
window.rtReady = true;
