// tessera drop-in service worker (module). Register it from the app's root scope:
//   navigator.serviceWorker.register('/sw.js', { type: 'module' })
// It reads ./tessera.config.json, serves {prefix}NAME/FILE from verified IndexedDB data,
// answers the app shell cache-first and leaves every other request alone.

import { createTessera } from './tessera-sw-lib.js';

const tessera = createTessera({ dropIn: true });

self.addEventListener('install', (event) => {
  event.waitUntil(tessera.install().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim().then(() => tessera.activate()));
});

self.addEventListener('fetch', (event) => {
  tessera.handleFetch(event);
});

self.addEventListener('message', (event) => {
  tessera.handleMessage(event);
});
