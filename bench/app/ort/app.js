// Bench item 9's page (bench/ort-dropin.js): the onnxruntime-web recipe of docs/recipes.md as an
// app writes it. On load it reads `?model=URL&sw=1|0`: with `sw=1` it registers tessera's drop-in
// worker and waits until it controls the page (the recipe), with `sw=0` it does not (the same app
// on the plain HTTP cache); then `ort.InferenceSession.create(URL)`. `window.bench.result` is
// plain data: times are the page's performance.now() (ms since the navigation started).

import * as ort from '/ort/ort.wasm.min.mjs';

ort.env.wasm.wasmPaths = '/ort/';
ort.env.wasm.numThreads = 1; // not cross-origin isolated: no SharedArrayBuffer, one thread

const params = new URLSearchParams(location.search);
const model = params.get('model');
const useSw = params.get('sw') === '1';

function describe(err) {
  return { name: err?.name ?? 'Error', code: err?.code ?? null, message: String(err?.message ?? err) };
}

window.bench = { result: null };

async function main() {
  let registeredAt = null;
  if (useSw) {
    const { Tessera } = await import('/tessera-client.js');
    await Tessera.register('/sw.js');
    registeredAt = performance.now();
  }
  const controlled = Boolean(navigator.serviceWorker?.controller);
  const started = performance.now();
  const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'] });
  const ready = performance.now();
  const entry = performance.getEntriesByName(new URL(model, location.href).href).pop();
  const result = {
    ok: true,
    controlled,
    registeredAt,
    createStartedAt: started,
    readyAt: ready,
    createMs: ready - started,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    // workerStart > 0: a service worker answered; transferSize: bytes from the network (headers
    // included; 0 for a worker's answer or a fresh HTTP-cache hit).
    resource: entry
      ? { workerStart: entry.workerStart, transferSize: entry.transferSize, encodedBodySize: entry.encodedBodySize, responseStatus: entry.responseStatus ?? null }
      : null,
    // The model's own fetch as Resource Timing saw it: request start → last body byte.
    fetchMs: entry ? entry.responseEnd - entry.startTime : null,
  };
  await session.release();
  return result;
}

main().then(
  (result) => {
    window.bench.result = result;
  },
  (err) => {
    window.bench.result = { ok: false, controlled: Boolean(navigator.serviceWorker?.controller), error: describe(err) };
  },
);
