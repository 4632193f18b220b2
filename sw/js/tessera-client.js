// tessera page client: registers the tessera service worker and talks to it over
// MessageChannel (request → progress* → one result). ES module, no dependencies.
//
//   import { Tessera } from './tessera-client.js';
//   await Tessera.register('/sw.js');
//   const status = await Tessera.ensureModel('mlp', { onProgress: (s) => console.log(s) });

/** An error reported by the tessera service worker; `code` is stable (see the README). */
export class TesseraError extends Error {
  /** @param {string} code @param {string} message @param {object | null} [details] */
  constructor(code, message, details = null) {
    super(message);
    this.name = 'TesseraError';
    this.code = code;
    /** Figures the app can act on (`quota`: needed, available, persisted, freeable), else null. */
    this.details = details ?? null;
  }
}

/**
 * Asks the browser for persistent storage before a download (`persist()` exists only in
 * windows, not in the worker), unless it was granted already; a refusal or a browser without
 * it changes nothing.
 */
async function askPersistence() {
  const storage = typeof navigator === 'undefined' ? null : navigator.storage;
  if (!storage?.persist || !storage.persisted) return;
  try {
    if (!(await storage.persisted())) await storage.persist();
  } catch {
    // Best effort: the download works without it.
  }
}

function container() {
  if (typeof navigator === 'undefined' || !('serviceWorker' in navigator)) {
    throw new TesseraError('unsupported', 'service workers are not available in this context');
  }
  return navigator.serviceWorker;
}

async function activeWorker() {
  const sw = container();
  if (sw.controller) return sw.controller;
  const reg = await sw.ready;
  if (reg.active) return reg.active;
  throw new TesseraError('no-service-worker', 'the tessera service worker is not active');
}

/** How often a page pings the worker while a long call (a download) is pending. */
const HEARTBEAT_MS = 1000;

/** Asks the active worker which instance it is (a ping also restarts a stopped worker). */
async function ping() {
  const worker = await activeWorker();
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = (event) => {
      channel.port1.close();
      resolve(event.data?.instance ?? null);
    };
    worker.postMessage({ tessera: 1, op: 'ping' }, [channel.port2]);
  });
}

/**
 * Sends `message` to the worker and settles with its result. Calls that download (`ensure`,
 * `check-update`) ping the worker every second: when the browser stopped and restarted it, the
 * call died with it, so it is sent again — the download resumes from what is stored and progress
 * keeps flowing; the page never waits on a worker that is gone.
 */
function call(message, { onProgress, signal } = {}) {
  const long = message.op === 'ensure' || message.op === 'check-update';
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) {
      reject(new TesseraError('aborted', 'the request was aborted'));
      return;
    }
    let settled = false;
    let channel = null;
    let instance = null;
    let heartbeat = null;
    const close = () => {
      if (!channel) return;
      channel.port1.onmessage = null;
      channel.port1.close();
      channel = null;
    };
    const finish = (settle, value) => {
      if (settled) return;
      settled = true;
      clearInterval(heartbeat);
      close();
      settle(value);
    };
    const send = () => {
      close();
      instance = null;
      channel = new MessageChannel();
      const port = channel.port2;
      channel.port1.onmessage = (event) => {
        const m = event.data || {};
        if (m.type === 'accepted') {
          instance = m.instance ?? null;
        } else if (m.type === 'progress') {
          if (onProgress) onProgress(m.status);
        } else if (m.type === 'result') {
          if (m.ok) finish(resolve, m.status);
          else finish(reject, new TesseraError(m.error?.code ?? 'unknown', m.error?.message ?? 'unknown error', m.error?.details));
        }
      };
      activeWorker().then(
        (worker) => worker.postMessage({ tessera: 1, ...message }, [port]),
        (e) => finish(reject, e instanceof TesseraError ? e : new TesseraError('no-service-worker', String(e))),
      );
    };
    if (signal) {
      signal.addEventListener('abort', () => finish(reject, new TesseraError('aborted', 'the request was aborted')), { once: true });
    }
    send();
    if (long) {
      let checking = false;
      let unanswered = 0;
      heartbeat = setInterval(async () => {
        if (settled || checking) return;
        if (instance === null) {
          // Not even accepted yet: a worker stopped before it read the message; ask again.
          if (++unanswered >= 5) {
            unanswered = 0;
            send();
          }
          return;
        }
        checking = true;
        try {
          const now = await ping();
          if (!settled && instance !== null && now !== null && now !== instance) send();
        } catch {
          // No active worker right now: the next beat tries again.
        } finally {
          checking = false;
        }
      }, HEARTBEAT_MS);
    }
  });
}

/** How long `register` waits for the worker to take control of the page, by default. */
const CONTROL_TIMEOUT_MS = 15_000;

let settleReady;
let rejectReady;
/** Resolves once a `register` call's worker controls the page (see `Tessera.ready`). */
const readyPromise = new Promise((resolve, reject) => {
  settleReady = resolve;
  rejectReady = reject;
});
// A page that never calls register, or whose register fails, must not see an unhandled rejection.
readyPromise.catch(() => {});

/**
 * Warns in the console about model files the page fetched before the worker controlled it: the
 * browser took them from the network unverified, and the worker will download them again.
 */
function watchEarlyModelFetches(prefix) {
  if (typeof PerformanceObserver === 'undefined' || typeof navigator === 'undefined') return;
  const sw = navigator.serviceWorker;
  if (!sw || sw.controller) return;
  const observer = new PerformanceObserver((list) => {
    if (sw.controller) {
      observer.disconnect();
      return;
    }
    for (const entry of list.getEntries()) {
      let path;
      try { path = new URL(entry.name).pathname; } catch { continue; }
      if (path.startsWith(prefix) && !path.startsWith(`${prefix}_shards/`)) {
        console.warn(`tessera: ${entry.name} was fetched before the service worker controlled this page: `
          + 'it came from the network unverified and will be downloaded again. Await Tessera.ready before loading models.');
      }
    }
  });
  try {
    observer.observe({ type: 'resource', buffered: true });
  } catch {
    // No Resource Timing here: nothing to watch.
  }
}

export const Tessera = {
  /**
   * Registers the module service worker and resolves once this page is controlled by it.
   * Rejects with `not-controlled` when the worker does not take control within `timeoutMs`
   * (a worker without `skipWaiting()`/`clients.claim()` never does on a first visit).
   * Options: `scope`, `timeoutMs` (default 15 s), `prefix` (the models' URL prefix, default
   * `/models/`: model fetches made before control are reported in the console).
   */
  async register(swUrl = '/sw.js', options = {}) {
    const sw = container();
    watchEarlyModelFetches(options.prefix ?? '/models/');
    try {
      const registration = await sw.register(swUrl, { type: 'module', scope: options.scope });
      if (!sw.controller) {
        const timeoutMs = options.timeoutMs ?? CONTROL_TIMEOUT_MS;
        await new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new TesseraError('not-controlled',
            `${swUrl} did not take control of this page within ${timeoutMs} ms: a service worker `
            + 'must call self.skipWaiting() on install and self.clients.claim() on activate '
            + '(the drop-in sw.js does; see the README for the composable form)')), timeoutMs);
          sw.addEventListener('controllerchange', () => { clearTimeout(timer); resolve(); }, { once: true });
        });
      }
      settleReady(registration);
      return registration;
    } catch (e) {
      rejectReady(e);
      throw e;
    }
  },

  /**
   * Resolves with the registration once `register` made the worker control the page: await it
   * before the first model fetch (a library creating its session at once otherwise races the
   * worker, and gets the model unverified from the network, then downloads it twice).
   */
  ready: readyPromise,

  /**
   * Makes a model available offline (download, verify); resolves with its status. Without
   * `files`, the whole model (then `ready`); with `files` (logical paths), only those files'
   * shards are downloaded and verified — each is then served, the rest of the model is not.
   */
  async ensureModel(name, opts = {}) {
    const message = { op: 'ensure', model: name };
    if (opts.files) message.files = [...opts.files];
    if (opts.persist !== false) await askPersistence();
    return call(message, opts);
  },

  /** The model's status. */
  status(name) {
    return call({ op: 'status', model: name });
  },

  /** Deletes the model and every shard no other model uses. */
  async remove(name) {
    await call({ op: 'remove', model: name });
  },

  /**
   * What tessera stores: `{ models, bytes, usage, quota, persisted, backend }`, where `models`
   * lists every stored model version as `{ name, version, active, bytes, sharedBytes,
   * missingBytes, lastUsed, persisted, backend }`: `bytes` are stored only by this version (what
   * removing it frees), `sharedBytes` are shared with other stored models or versions, and
   * `lastUsed` is when the worker last served a byte of it (ms since the epoch, or null).
   */
  storage() {
    return call({ op: 'storage' });
  },

  /**
   * What installing a model would cost, to ask the user before a big download:
   * `{ model, version, bytes, missing, etaSeconds, bytesPerSecond, available }`. `missing` is
   * what is not stored yet; `etaSeconds` is `missing` at the download speed this worker measured
   * (median of recent shard downloads), 0 when nothing is missing, null before any download was
   * measured. For a model not stored, the published manifest is fetched and checked (not stored).
   */
  estimate(name) {
    return call({ op: 'estimate', model: name });
  },

  /** Checks for a newer signed version and installs it (the old one serves until the switch). */
  checkUpdate(name, opts = {}) {
    return call({ op: 'check-update', model: name }, opts);
  },

  /** Sets the bearer token attached to artifact requests. */
  async setToken(token) {
    await call({ op: 'set-token', token });
  },

  /** Listens to progress broadcast to every page; returns the unsubscribe function. */
  onProgress(listener) {
    const sw = container();
    const handler = (event) => {
      const m = event.data;
      if (m && m.tessera === 1 && m.type === 'progress') listener(m.status);
    };
    sw.addEventListener('message', handler);
    sw.startMessages();
    return () => sw.removeEventListener('message', handler);
  },
};
