// Workbox 7 contender service worker (classic script, the prod builds from npm, served from this
// app directory): model files under /models/ answered CacheFirst, cacheable statuses 0 and 200,
// Range requests sliced from the cached whole file by workbox-range-requests. This is the setup
// Workbox's docs recommend for large media and what a PWA caching model files with Workbox uses.
/* global importScripts, workbox */

importScripts(
  '/workbox-core.prod.js',
  '/workbox-routing.prod.js',
  '/workbox-strategies.prod.js',
  '/workbox-cacheable-response.prod.js',
  '/workbox-range-requests.prod.js',
);

workbox.core.skipWaiting();
workbox.core.clientsClaim();

workbox.routing.registerRoute(
  ({ url }) => url.origin === self.location.origin && url.pathname.startsWith('/models/'),
  new workbox.strategies.CacheFirst({
    cacheName: 'models',
    plugins: [
      new workbox.cacheableResponse.CacheableResponsePlugin({ statuses: [0, 200] }),
      new workbox.rangeRequests.RangeRequestsPlugin(),
    ],
  }),
);
