// The end-to-end test page: adds tessera exactly as a PWA does (two lines), then exposes
// `window.harness`, small functions the Playwright scenarios call with `page.evaluate`. Every
// function resolves to plain data (never rejects) so a failure arrives as data with its code.

import { Tessera } from './tessera-client.js';

const out = document.getElementById('out');

/** A thrown value as plain data: `{ name, code, message }`. */
function describe(err) {
  return { name: err?.name ?? 'Error', code: err?.code ?? null, message: String(err?.message ?? err), details: err?.details ?? null };
}

function hex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function show(value) {
  out.textContent = JSON.stringify(value, null, 2);
}

const harness = {
  /** Set once `Tessera.register` settled: `{ ok, controlled, error? }`. */
  registered: null,
  /** Every broadcast progress status, in arrival order. */
  broadcasts: [],
  /** Downloads started with `startEnsure`, by model: `{ progress, result }`. */
  background: {},

  /** `Tessera.ensureModel` with its progress recorded: `{ ok, status?, error?, progress }`. */
  async ensure(model) {
    const progress = [];
    try {
      const status = await Tessera.ensureModel(model, { onProgress: (s) => progress.push(s) });
      return { ok: true, status, progress };
    } catch (err) {
      return { ok: false, error: describe(err), progress };
    }
  },

  /** Starts `ensure(model)` without waiting; watch `harness.background[model]`. */
  startEnsure(model) {
    const entry = { progress: [], result: null };
    harness.background[model] = entry;
    Tessera.ensureModel(model, { onProgress: (s) => entry.progress.push(s) }).then(
      (status) => (entry.result = { ok: true, status }),
      (err) => (entry.result = { ok: false, error: describe(err) }),
    );
    return true;
  },

  /** `Tessera.status` as `{ ok, status?, error? }`. */
  async status(model) {
    try {
      return { ok: true, status: await Tessera.status(model) };
    } catch (err) {
      return { ok: false, error: describe(err) };
    }
  },

  /** `Tessera.checkUpdate` as `{ ok, status?, error? }`. */
  async checkUpdate(model) {
    try {
      return { ok: true, status: await Tessera.checkUpdate(model) };
    } catch (err) {
      return { ok: false, error: describe(err) };
    }
  },

  /** `Tessera.remove` as `{ ok, error? }`. */
  async remove(model) {
    try {
      await Tessera.remove(model);
      return { ok: true };
    } catch (err) {
      return { ok: false, error: describe(err) };
    }
  },

  /**
   * Fetches `url` (method, optional Range header) and describes the answer: status, headers,
   * body length and SHA-256, the parsed JSON error body when there is one, or `networkError`.
   */
  async fetchInfo(url, { method = 'GET', range = null } = {}) {
    const headers = range ? { Range: range } : {};
    let res;
    try {
      res = await fetch(url, { method, headers, cache: 'no-store' });
    } catch (err) {
      return { networkError: describe(err) };
    }
    let body;
    try {
      body = await res.arrayBuffer();
    } catch (err) {
      return { status: res.status, bodyError: describe(err), headers: Object.fromEntries(res.headers) };
    }
    const info = {
      status: res.status,
      headers: Object.fromEntries(res.headers),
      length: body.byteLength,
      sha256: hex(await crypto.subtle.digest('SHA-256', body)),
      json: null,
    };
    if ((res.headers.get('content-type') ?? '').includes('json') && body.byteLength < 65536) {
      try {
        info.json = JSON.parse(new TextDecoder().decode(body));
      } catch {
        info.json = null;
      }
    }
    return info;
  },

  /** Whether this page is controlled by a service worker right now. */
  controlled() {
    return Boolean(navigator.serviceWorker.controller);
  },
};

window.harness = harness;

const model = () => document.getElementById('model').value;
document.getElementById('ensure').addEventListener('click', async () => show(await harness.ensure(model())));
document.getElementById('status').addEventListener('click', async () => show(await harness.status(model())));
document.getElementById('fetch').addEventListener('click', async () =>
  show(await harness.fetchInfo(`/models/${model()}/weights.bin`)),
);

try {
  await Tessera.register('/sw.js');
  Tessera.onProgress((status) => harness.broadcasts.push(status));
  harness.registered = { ok: true, controlled: harness.controlled() };
} catch (err) {
  harness.registered = { ok: false, controlled: harness.controlled(), error: describe(err) };
}
show(harness.registered);
