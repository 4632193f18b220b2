// The Wayfarer demo offline: once the recommender is stored — even if it was never asked for an
// answer online — the app reloads with no network, still ranks destinations on this device, and
// the summarizer, which runs on the edge, says the device is offline instead of failing obscurely.

import assert from 'node:assert/strict';

import { demoScenario } from '../lib/demo.js';

/** The service worker script and its imports, which the browser re-checks on navigation. */
const SW_SCRIPTS = ['/sw.js', '/tessera-sw-lib.js', '/tessera_sw.js', '/tessera_sw_bg.wasm'];

/**
 * Playwright's `setOffline` cuts the network for the reloaded page and its worker, but the new
 * document starts with `navigator.onLine === true`; applying the same emulation on the page's
 * session again makes Chromium report offline (and fire `offline`), as a real disconnect does.
 */
async function offlineForPage(env) {
  await env.cdp('Network.enable');
  await env.cdp('Network.emulateNetworkConditions', {
    offline: true,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: -1,
  });
}

demoScenario('demo offline: app reloads, destinations on-device, summarizer says it is offline', async (env) => {
  await env.load();
  await env.waitReady();
  await env.page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 20_000 });
  // No click online: a first-time user who goes offline right after the download must still get
  // answers. The runtime reads the signed manifest the service worker accepted from the worker
  // itself (`/models/_accepted/NAME`), so nothing but the stored model is needed offline.
  await env.browser.setOffline(true);
  const before = env.proxy.log.length;
  await env.load({ reload: true });
  await offlineForPage(env);
  await env.page.waitForFunction(() => document.getElementById('net-text').textContent === 'Offline', null, {
    timeout: 5_000,
  });
  await env.waitReady();
  assert.match(await env.text('dl-state'), /^Ready\b/, 'download card still says ready offline');

  await env.page.locator('#rec-list').evaluate((list) => list.replaceChildren());
  await env.recommend();
  assert.equal(await env.text('rec-error'), '', 'recommender shows no error offline');
  const ranked = await env.page.locator('#rec-list li.dest h3').allTextContents();
  assert.ok(ranked.length >= 3, `ranked destinations shown offline: ${JSON.stringify(ranked)}`);
  assert.equal(await env.text('rec-meta .source'), 'On-device', 'offline recommendations ran on this device');

  await env.summarize();
  assert.equal(await env.text('sum-meta'), '', 'no summary offline');
  assert.match(await env.text('sum-error'), /^You\u2019re offline/, 'the summarizer says the device is offline');

  // The browser's own update check of the service worker script is not covered by the
  // emulation (it is not the page's or the worker's request); everything else must stay local.
  const leaked = env.proxy.log.slice(before).filter((e) => !SW_SCRIPTS.includes(e.path));
  assert.deepEqual(leaked.map((e) => `${e.method} ${e.path}`), [], 'nothing the app asked for reached the network offline');
});
