// The onnxruntime-web recipe (docs/recipes.md), as an app writes it: register tessera's drop-in
// worker, wait until it controls the page, then give onnxruntime-web plain URLs under /models/.
// `window.recipe` lets playwright/tests/recipe-onnxruntime-web.test.js drive it; every function
// resolves to plain data.

import { Tessera } from './tessera-client.js';
import * as ort from '/ort/ort.wasm.min.mjs';

// onnxruntime-web loads its wasm glue (.mjs) and binary (.wasm) lazily, from here; both are in
// tessera.config.json's appShell so the app also starts offline.
ort.env.wasm.wasmPaths = '/ort/';
ort.env.wasm.numThreads = 1; // not cross-origin isolated: no SharedArrayBuffer, one thread

function describe(err) {
  return { name: err?.name ?? 'Error', code: err?.code ?? null, message: String(err?.message ?? err) };
}

const recipe = {
  registered: null,

  /**
   * Creates a session from `url` (with `externalData` when given: `[{ path, data: URL }]`) and runs
   * each case's token ids; resolves `{ ok, logits: number[][], createMs, error? }`.
   */
  async run({ url, externalData, cases }) {
    try {
      const started = performance.now();
      const options = { executionProviders: ['wasm'] };
      if (externalData) options.externalData = externalData;
      const session = await ort.InferenceSession.create(url, options);
      const createMs = performance.now() - started;
      const logits = [];
      for (const ids of cases) {
        const shape = [1, ids.length];
        const feeds = {
          input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), shape),
          attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), shape),
          token_type_ids: new ort.Tensor('int64', new BigInt64Array(ids.length), shape),
        };
        const out = await session.run(feeds);
        logits.push(Array.from(out.logits.data));
      }
      await session.release();
      return { ok: true, logits, createMs };
    } catch (err) {
      return { ok: false, error: describe(err) };
    }
  },

  /** Same-origin resources this page loaded, as Resource Timing saw them (path, from the worker or not). */
  resources() {
    return performance.getEntriesByType('resource').map((e) => ({
      path: new URL(e.name).pathname,
      worker: e.workerStart > 0,
    }));
  },

  /** Time to the first answer of `url` fetched by the page (ms) and its size. */
  async timeFetch(url) {
    const started = performance.now();
    const res = await fetch(url);
    const bytes = (await res.arrayBuffer()).byteLength;
    return { status: res.status, bytes, ms: performance.now() - started, version: res.headers.get('x-tessera-version') };
  },
};
window.recipe = recipe;

try {
  await Tessera.register('/sw.js');
  recipe.registered = { ok: true, controlled: Boolean(navigator.serviceWorker.controller) };
} catch (err) {
  recipe.registered = { ok: false, controlled: Boolean(navigator.serviceWorker.controller), error: describe(err) };
}
document.getElementById('out').textContent = JSON.stringify(recipe.registered);
