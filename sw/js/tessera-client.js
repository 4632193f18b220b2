// tessera page client: registers the tessera service worker and talks to it over
// MessageChannel (request → progress* → one result). ES module, no dependencies.
//
//   import { Tessera } from './tessera-client.js';
//   await Tessera.register('/sw.js');
//   const status = await Tessera.ensureModel('mlp', { onProgress: (s) => console.log(s) });

/** An error reported by the tessera service worker; `code` is stable (see the README). */
export class TesseraError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = 'TesseraError';
    this.code = code;
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

function call(message, { onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) {
      reject(new TesseraError('aborted', 'the request was aborted'));
      return;
    }
    const channel = new MessageChannel();
    const done = () => {
      channel.port1.onmessage = null;
      channel.port1.close();
    };
    channel.port1.onmessage = (event) => {
      const m = event.data || {};
      if (m.type === 'progress') {
        if (onProgress) onProgress(m.status);
      } else if (m.type === 'result') {
        done();
        if (m.ok) resolve(m.status);
        else reject(new TesseraError(m.error?.code ?? 'unknown', m.error?.message ?? 'unknown error'));
      }
    };
    if (signal) {
      signal.addEventListener('abort', () => {
        done();
        reject(new TesseraError('aborted', 'the request was aborted'));
      }, { once: true });
    }
    activeWorker().then(
      (worker) => worker.postMessage({ tessera: 1, ...message }, [channel.port2]),
      (e) => { done(); reject(e instanceof TesseraError ? e : new TesseraError('no-service-worker', String(e))); },
    );
  });
}

export const Tessera = {
  /** Registers the module service worker and resolves once this page is controlled by it. */
  async register(swUrl = '/sw.js', options = {}) {
    const sw = container();
    const registration = await sw.register(swUrl, { type: 'module', scope: options.scope });
    if (!sw.controller) {
      await new Promise((resolve) => sw.addEventListener('controllerchange', resolve, { once: true }));
    }
    return registration;
  },

  /** Makes a model available offline (download, verify); resolves with its `ready` status. */
  ensureModel(name, opts = {}) {
    return call({ op: 'ensure', model: name }, opts);
  },

  /** The model's status. */
  status(name) {
    return call({ op: 'status', model: name });
  },

  /** Deletes the model and every shard no other model uses. */
  async remove(name) {
    await call({ op: 'remove', model: name });
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
