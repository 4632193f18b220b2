// tessera service worker library: the composable form of tessera for apps that have their own
// service worker. The drop-in sw.js is built on it.
//
//   import { createTessera } from './tessera-sw-lib.js';
//   const tessera = createTessera();
//   self.addEventListener('install', (e) => e.waitUntil(tessera.install().then(() => self.skipWaiting())));
//   self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim().then(() => tessera.activate())));
//   self.addEventListener('fetch', (e) => { if (!tessera.handleFetch(e)) { /* your routing */ } });
//   self.addEventListener('message', (e) => { if (!tessera.handleMessage(e)) { /* yours */ } });
//
// Static imports only, no top-level await (both break module service workers). The wasm is
// instantiated from the copy cached at install, so a worker restarted offline still starts.

import init, { TesseraServiceWorker } from './tessera_sw.js';

/** How long a started worker waits before it resumes unfinished downloads. */
const RESUME_DELAY_MS = 50;

/**
 * @param {{ base?: string, configUrl?: string, wasmUrl?: string, cacheName?: string, prefix?: string, dropIn?: boolean, timings?: boolean }} [options]
 *   base: where tessera's files live (default: the worker script's directory);
 *   prefix: the configured URL prefix, used only before the engine has started (default '/models/');
 *   dropIn: tessera is the app's only service worker (sw.js): before the engine has started it
 *   also answers navigations and same-origin static files (from the app shell, else the
 *   network). In the composable form (default) it claims only the model prefix until it has
 *   started — the app's own routes answer everything else, also when the browser restarted the
 *   worker offline — and then the prefix and its configured `appShell`.
 *   timings: record `performance` marks and measures named `tessera:*` in the worker (start-up
 *   steps, storage operations) for benches to read; off by default.
 */
export function createTessera(options = {}) {
  const base = new URL(options.base ?? './', self.location.href);
  const configUrl = new URL(options.configUrl ?? 'tessera.config.json', base).href;
  const wasmUrl = new URL(options.wasmUrl ?? 'tessera_sw_bg.wasm', base).href;
  const glueUrl = new URL('tessera_sw.js', base).href;
  // The page client: part of the shell whatever the config lists, so `Tessera.*` survives an
  // offline reload of an app that forgot it in `appShell`.
  const clientUrl = new URL('tessera-client.js', base).href;
  const cacheName = options.cacheName ?? 'tessera-v1';
  const bootPrefix = options.prefix ?? '/models/';
  const dropIn = options.dropIn ?? false;
  // Read by the engine's marks (sw/src/timing.rs) too.
  if (options.timings) self.__tesseraTimings = true;
  const mark = options.timings ? (name) => performance.mark(`tessera:${name}`) : () => {};

  /** @type {Promise<TesseraServiceWorker> | null} */
  let starting = null;
  /** @type {TesseraServiceWorker | null} */
  let engine = null;
  /** This start of the worker: pages compare it to notice that the browser restarted it. */
  const instance = self.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random()}`;
  /** The installs an earlier instance left unfinished, resumed once the engine starts. */
  let resuming = null;
  /** @type {Set<string>} */
  let shell = new Set();

  async function cached(url) {
    const cache = await caches.open(cacheName);
    const hit = await cache.match(url, { ignoreVary: true });
    if (hit) return hit;
    const fresh = await fetch(url, { cache: 'no-cache' });
    if (!fresh.ok) throw new Error(`tessera: ${url} answered ${fresh.status}`);
    await cache.put(url, fresh.clone());
    return fresh;
  }

  /**
   * Starts opening storage while the wasm is fetched and compiled: the engine adopts the
   * database when it has the version and stores it expects, and the file system root, and
   * opens its own otherwise (sw/src/store.rs, `Preopened`). "tessera" is its database name.
   */
  function openStorageEarly() {
    const db = new Promise((resolve) => {
      try {
        const request = indexedDB.open('tessera');
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => resolve(null);
      } catch {
        resolve(null);
      }
    });
    const opfsRoot = navigator.storage?.getDirectory ? navigator.storage.getDirectory().catch(() => null) : null;
    return { db, opfsRoot };
  }

  async function start() {
    // The module and the config come from Cache Storage together (cold start: both are needed).
    mark('start');
    const early = openStorageEarly();
    const [wasm, configResponse] = await Promise.all([cached(wasmUrl), cached(configUrl)]);
    mark('cache-matched');
    const [, text] = await Promise.all([init({ module_or_path: wasm }).then(() => mark('wasm-ready')), configResponse.text()]);
    const config = JSON.parse(text);
    shell = new Set([clientUrl, ...(config.appShell ?? []).map((u) => new URL(u, base).href)]);
    try {
      engine = await TesseraServiceWorker.create(text, early);
    } catch (e) {
      // A start that failed must not keep the early connection open (it would block an upgrade).
      early.db.then((db) => db?.close());
      throw e;
    }
    mark('engine-ready');
    // After the request that started the worker has had its turn at storage (a cold start
    // answers first); a resumed download does not notice 50 ms.
    resuming = new Promise((resolve) => { setTimeout(resolve, RESUME_DELAY_MS); })
      .then(() => engine.resumeInstalls())
      .catch((e) => console.warn('tessera: resuming downloads', e));
    return engine;
  }

  /** Keeps the worker alive while resumed downloads run (best effort: not every event allows it). */
  function keepAlive(event) {
    try {
      event.waitUntil(ready().then(() => resuming));
    } catch {
      // The event no longer accepts lifetime extensions.
    }
  }

  /** The started engine (started once; a failed start is retried on the next call). */
  function ready() {
    if (!starting) {
      starting = start();
      starting.catch(() => { starting = null; });
    }
    return starting;
  }

  async function fromShell(request) {
    const cache = await caches.open(cacheName);
    const hit = await cache.match(request, { ignoreVary: true, ignoreSearch: false });
    return hit ?? fetch(request);
  }

  function isShell(url) {
    return shell.has(url);
  }

  /** Before start: same-origin requests that may be app-shell entries. */
  function maybeShell(url) {
    return /\.(html|js|mjs|css|json|wasm|svg|png|ico|webmanifest)$|\/$/.test(url.pathname);
  }

  /** Whether tessera answers this request (known for sure once the engine has started). */
  function handles(request) {
    if (request.method !== 'GET' && request.method !== 'HEAD') return false;
    if (engine) return engine.handles(request.url) || isShell(request.url);
    const url = new URL(request.url);
    if (url.origin !== self.location.origin) return false;
    // Before the engine starts only the prefix is known; the shell list comes with the config.
    // Only the drop-in, which has no other routes, answers possible shell files meanwhile.
    if (url.pathname.startsWith(bootPrefix)) return true;
    return dropIn && (request.mode === 'navigate' || maybeShell(url));
  }

  /** See the returned object's `respond`. */
  function respond(request) {
    if (!handles(request)) return null;
    if (engine) return engine.handles(request.url) ? engine.fetch(request) : fromShell(request);
    // Not started yet (a restarted worker): start, then route as above.
    return (async () => {
      let t = null;
      try { t = await ready(); } catch (e) { console.warn('tessera: start failed', e); }
      if (t && t.handles(request.url)) return t.fetch(request);
      if (isShell(request.url)) return fromShell(request);
      return fetch(request);
    })();
  }

  // A worker the browser starts again (stopped while idle, or after a browser restart) is
  // already activated, so its cache holds this version's wasm and config: it starts the engine
  // (Cache Storage, wasm instantiate, storage opening) while its script is evaluated, overlapped
  // with the browser's dispatch of the event that woke it, not once that event arrives. A new
  // version (installing) waits for `install`, which first refreshes the cached wasm.
  if (self.serviceWorker?.state === 'activated') ready().catch(() => {});

  return {
    ready,

    /** Install: cache the wasm, its glue, the config and the app shell; start the engine. */
    async install() {
      const cache = await caches.open(cacheName);
      const configResponse = await fetch(configUrl, { cache: 'no-cache' });
      if (!configResponse.ok) throw new Error(`tessera: ${configUrl} answered ${configResponse.status}`);
      const config = JSON.parse(await configResponse.clone().text());
      await cache.put(configUrl, configResponse);
      const reload = (u) => new Request(u, { cache: 'reload' });
      // The engine's own files first, so that it starts while the app shell (which may hold
      // large files, e.g. an inference library's wasm) downloads.
      await cache.addAll([wasmUrl, glueUrl].map(reload));
      const shell = (config.appShell ?? []).map((u) => new URL(u, base).href)
        .filter((u) => u !== wasmUrl && u !== glueUrl);
      const cacheShell = async () => {
        try {
          await cache.addAll(shell.map(reload));
        } catch (e) {
          if (e?.name !== 'QuotaExceededError') throw e;
          // No room for the whole app shell: install anyway (models still download, verify and
          // serve) with what fits, and say what won't work offline, rather than no worker at all.
          const settled = await Promise.allSettled(shell.map((u) => cache.add(reload(u))));
          const missing = shell.filter((_, i) => settled[i].status === 'rejected');
          console.warn(`tessera: not enough storage to keep the whole app shell for offline use; not cached: ${missing.join(', ')}`);
        }
      };
      // The page client, when it is served beside the worker (an app may bundle it instead).
      const client = async () => {
        const response = await fetch(reload(clientUrl)).catch(() => null);
        if (response && response.ok) await cache.put(clientUrl, response);
      };
      await Promise.all([cacheShell(), client(), ready()]);
    },

    /** Activate: persistent storage, background update checks of stored models. */
    async activate() {
      try {
        const t = await ready();
        await t.activate();
      } catch (e) {
        console.warn('tessera: activate', e);
      }
    },

    handles,

    /** Calls `event.respondWith` when tessera answers the request; returns whether it did. */
    handleFetch(event) {
      mark('fetch-event');
      const answer = respond(event.request);
      if (!answer) return false;
      if (options.timings) answer.then(() => mark('answered'), () => {});
      event.respondWith(answer);
      if (!engine) keepAlive(event);
      return true;
    },

    /**
     * tessera's answer to `request` (a promise of a Response), or `null` when tessera does not
     * answer it: for routers that call `respondWith` themselves (Workbox, tessera-workbox.js).
     */
    respond,

    /** Handles `{ tessera: 1, op, ... }` messages (answering on the transferred port). */
    handleMessage(event) {
      const data = event.data;
      if (!data || data.tessera !== 1 || !data.op) return false;
      const port = event.ports && event.ports[0] ? event.ports[0] : null;
      keepAlive(event);
      event.waitUntil((async () => {
        // Pages ping while a long call is pending: a new `instance` means the browser restarted
        // the worker and the call was lost, so the page issues it again.
        if (data.op === 'ping') {
          if (port) port.postMessage({ type: 'pong', instance });
          return;
        }
        if (port) port.postMessage({ type: 'accepted', instance });
        let t;
        try {
          t = await ready();
        } catch (e) {
          const error = { code: (e && e.code) || 'sw-start-failed', message: String((e && e.message) || e) };
          if (port) port.postMessage({ type: 'result', ok: false, error });
          return;
        }
        await t.message(data, port);
      })());
      return true;
    },
  };
}
