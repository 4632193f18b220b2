// The Workbox recipe's page: registers the app's own worker (app-sw.js, Workbox + tessera) with
// tessera's page client, then reads model files by plain URL. `window.recipe` lets
// playwright/tests/recipe-workbox.test.js drive it; every function resolves to plain data.

import { Tessera } from './tessera-client.js';

function describe(err) {
  return { name: err?.name ?? 'Error', code: err?.code ?? null, message: String(err?.message ?? err) };
}

function hex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const recipe = {
  registered: null,

  /** `fetch(url, { method, headers: range })` described: status, headers, length, sha256, time. */
  async fetchInfo({ url, method = 'GET', range = null }) {
    try {
      const started = performance.now();
      const res = await fetch(url, { method, headers: range ? { Range: range } : {} });
      const body = await res.arrayBuffer();
      return {
        status: res.status,
        headers: Object.fromEntries(res.headers),
        length: body.byteLength,
        sha256: hex(await crypto.subtle.digest('SHA-256', body)),
        ms: performance.now() - started,
      };
    } catch (err) {
      return { networkError: describe(err) };
    }
  },

  /** `Tessera.ensureModel(model)` as `{ ok, status?, error? }` (the client API through the app's worker). */
  async ensure(model) {
    try {
      return { ok: true, status: await Tessera.ensureModel(model) };
    } catch (err) {
      return { ok: false, error: describe(err) };
    }
  },
};
window.recipe = recipe;

try {
  await Tessera.register('/app-sw.js');
  recipe.registered = { ok: true, controlled: Boolean(navigator.serviceWorker.controller) };
} catch (err) {
  recipe.registered = { ok: false, controlled: Boolean(navigator.serviceWorker.controller), error: describe(err) };
}
document.getElementById('out').textContent = JSON.stringify(recipe.registered);
