// A composable service worker that forgets `skipWaiting()`/`clients.claim()`: on a first visit it
// never controls the page, so `Tessera.register` must fail with `not-controlled`, not hang.

import { createTessera } from './tessera-sw-lib.js';

const tessera = createTessera();
self.addEventListener('install', (e) => e.waitUntil(tessera.install()));
self.addEventListener('activate', (e) => e.waitUntil(tessera.activate()));
self.addEventListener('fetch', (e) => {
  tessera.handleFetch(e);
});
self.addEventListener('message', (e) => {
  tessera.handleMessage(e);
});
