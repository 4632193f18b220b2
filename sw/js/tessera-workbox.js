// tessera for apps whose service worker routes with Workbox (workbox-routing 7). Register
// tessera's route before your own, so model files under the prefix are answered by tessera from
// verified storage and never reach a Workbox strategy (which would cache a second, unverified copy):
//
//   import { registerRoute } from 'workbox-routing';
//   import { createTessera } from './tessera-sw-lib.js';
//   import { registerTesseraRoutes } from './tessera-workbox.js';
//
//   const tessera = createTessera();
//   self.addEventListener('install', (e) => e.waitUntil(tessera.install().then(() => self.skipWaiting())));
//   self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim().then(() => tessera.activate())));
//   self.addEventListener('message', (e) => { tessera.handleMessage(e); });
//   registerTesseraRoutes(registerRoute, tessera);   // first: GET and HEAD under /models/
//   registerRoute(/* your routes */);
//
// The worker must be a module worker (tessera-sw-lib.js is an ES module): bundle it with your
// usual tool, or serve Workbox's ES modules as files (docs/recipes.md#workbox). Workbox keeps the
// app shell (precache or runtime caching); tessera's `appShell` can then be `[]`. Workbox-free,
// this file only needs `self.location` and the object `createTessera()` returns.

/**
 * Workbox route arguments for tessera: `{ match, handler }`, for
 * `registerRoute(match, handler, 'GET')` (and `'HEAD'`). `match` takes same-origin requests under
 * `prefix` (tessera.config.json's `prefix`, default `/models/`); `handler.handle` answers them
 * with tessera, or from the network when tessera does not serve that URL (manifests and shards
 * pass through, as with the drop-in).
 * @param {{ respond(request: Request): Promise<Response> | null }} tessera the object `createTessera()` returns
 * @param {{ prefix?: string }} [options]
 */
export function tesseraRoute(tessera, { prefix = '/models/' } = {}) {
  const match = ({ url, request }) =>
    url.origin === self.location.origin
    && url.pathname.startsWith(prefix)
    && (request.method === 'GET' || request.method === 'HEAD');
  const handler = {
    handle({ request }) {
      return respond(tessera, request);
    },
  };
  return { match, handler };
}

/**
 * Registers tessera's route for GET and HEAD with Workbox's `registerRoute` (pass it in: this file
 * imports nothing, so it works whichever way Workbox reaches your worker). Call it before
 * registering your own routes: Workbox uses the first route that matches. Returns the routes.
 * @param {(match: Function, handler: object, method?: string) => unknown} registerRoute
 * @param {{ respond(request: Request): Promise<Response> | null }} tessera
 * @param {{ prefix?: string }} [options]
 */
export function registerTesseraRoutes(registerRoute, tessera, options) {
  const { match, handler } = tesseraRoute(tessera, options);
  return ['GET', 'HEAD'].map((method) => registerRoute(match, handler, method));
}

/** tessera's answer to `request`, or the network's where tessera does not serve that URL. */
function respond(tessera, request) {
  return tessera.respond(request) ?? fetch(request);
}
