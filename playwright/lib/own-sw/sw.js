// An app's own service worker with tessera composed in, wired exactly as the README's
// composable snippet says: the app keeps its own cache-first routes (its shell and `/data.json`),
// tessera answers the model prefix. The scenarios copy this file over the test app's `sw.js`.

import { createTessera } from './tessera-sw-lib.js';

const tessera = createTessera();
const APP_CACHE = 'app-own-v1';
const APP_FILES = ['/', '/index.html', '/app.js', '/style.css', '/tessera-client.js', '/data.json'];

self.addEventListener('install', (e) => e.waitUntil((async () => {
  await (await caches.open(APP_CACHE)).addAll(APP_FILES);
  await tessera.install();
  await self.skipWaiting();
})()));
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim().then(() => tessera.activate())));
self.addEventListener('fetch', (e) => {
  if (tessera.handleFetch(e)) return;
  e.respondWith((async () => (await caches.match(e.request, { cacheName: APP_CACHE })) ?? fetch(e.request))());
});
self.addEventListener('message', (e) => {
  tessera.handleMessage(e);
});
