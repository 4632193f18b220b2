// Workbox contender page: registers the Workbox service worker (sw.js) and sets
// `window.bench.registered` once it controls the page. The bench drives it with page.evaluate.

window.bench = { registered: null };
try {
  const sw = navigator.serviceWorker;
  const controlled = sw.controller
    ? Promise.resolve()
    : new Promise((resolve) => sw.addEventListener('controllerchange', resolve, { once: true }));
  await sw.register('/sw.js');
  await sw.ready;
  await controlled;
  window.bench.registered = { ok: true, controlled: Boolean(sw.controller) };
} catch (err) {
  window.bench.registered = { ok: false, error: String(err?.message ?? err) };
}
