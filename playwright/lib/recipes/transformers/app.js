// The transformers.js recipe (docs/recipes.md), as an app writes it: register tessera's drop-in
// worker, wait until it controls the page, point transformers.js at tessera's prefix with its own
// caches off, then use a `pipeline`. `window.recipe` lets
// playwright/tests/recipe-transformers.test.js drive it; every function resolves to plain data.

import { Tessera } from './tessera-client.js';
import { env, pipeline } from '/tf/transformers.min.js';

env.allowRemoteModels = false; // never huggingface.co: every file comes from tessera
env.allowLocalModels = true;
env.localModelPath = '/models/'; // tessera's prefix: pipeline('…', NAME) reads /models/NAME/FILE
env.useBrowserCache = false; // tessera already keeps the verified files: no second copy in Cache Storage
env.useWasmCache = false; // onnxruntime's wasm comes from the app shell (and no blob: import under a strict CSP)
env.backends.onnx.wasm.wasmPaths = {
  mjs: '/tf/ort-wasm-simd-threaded.asyncify.mjs',
  wasm: '/tf/ort-wasm-simd-threaded.asyncify.wasm',
};
env.backends.onnx.wasm.numThreads = 1; // not cross-origin isolated

function describe(err) {
  return { name: err?.name ?? 'Error', code: err?.code ?? null, message: String(err?.message ?? err) };
}

const recipe = {
  registered: null,

  /**
   * Loads `pipeline('text-classification', model, { dtype: 'fp32', device: 'wasm' })` (with
   * transformers.js's browser cache on when `browserCache`), classifies `texts` and also returns
   * the tokenizer's ids and the model's raw logits for each. Resolves plain data.
   */
  async classify({ model, texts, browserCache = false }) {
    env.useBrowserCache = browserCache;
    try {
      const started = performance.now();
      const classifier = await pipeline('text-classification', model, { dtype: 'fp32', device: 'wasm' });
      const loadMs = performance.now() - started;
      const answers = [];
      for (const text of texts) {
        const [top] = await classifier(text);
        const inputs = classifier.tokenizer(text);
        const { logits } = await classifier.model(inputs);
        answers.push({
          label: top.label,
          score: top.score,
          ids: Array.from(inputs.input_ids.data, Number),
          logits: Array.from(logits.data),
        });
      }
      await classifier.dispose();
      return { ok: true, loadMs, answers };
    } catch (err) {
      return { ok: false, error: describe(err) };
    } finally {
      env.useBrowserCache = false;
    }
  },

  /** Same-origin resources this page loaded (Resource Timing): path and whether a worker was involved. */
  resources() {
    return performance.getEntriesByType('resource').map((e) => ({ path: new URL(e.name).pathname, worker: e.workerStart > 0 }));
  },
};
window.recipe = recipe;

try {
  await Tessera.register('/sw.js'); // resolves once the worker controls the page: only then load models
  recipe.registered = { ok: true, controlled: Boolean(navigator.serviceWorker.controller) };
} catch (err) {
  recipe.registered = { ok: false, controlled: Boolean(navigator.serviceWorker.controller), error: describe(err) };
}
document.getElementById('out').textContent = JSON.stringify(recipe.registered);
