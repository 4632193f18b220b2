// The app's own service worker: Workbox routing (workbox-routing, workbox-strategies 7.4.1, served
// as ES modules) with tessera added through sw/js/tessera-workbox.js, as docs/recipes.md#workbox
// says. tessera's route comes first; the app's catch-all same-origin route (stale-while-revalidate
// into the `app` cache) would otherwise also take /models/ and keep a second, unverified copy.

import { registerRoute } from '/workbox/workbox-routing/index.js';
import { StaleWhileRevalidate } from '/workbox/workbox-strategies/index.js';
import { createTessera } from './tessera-sw-lib.js';
import { registerTesseraRoutes } from './tessera-workbox.js';

const tessera = createTessera();
self.addEventListener('install', (e) => e.waitUntil(tessera.install().then(() => self.skipWaiting())));
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim().then(() => tessera.activate())));
self.addEventListener('message', (e) => { tessera.handleMessage(e); });

registerTesseraRoutes(registerRoute, tessera);
registerRoute(({ url }) => url.origin === self.location.origin, new StaleWhileRevalidate({ cacheName: 'app' }));
