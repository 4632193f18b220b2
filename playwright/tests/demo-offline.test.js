// The Wayfarer demo offline: once the recommender is stored — even if it was never asked for an
// answer online — the app reloads with no network, still ranks destinations on this device, and
// the summarizer, which runs on the edge, says the device is offline instead of failing obscurely.
// "Check for updates" offline says the update server can't be reached and the stored version
// keeps working (not that nothing is stored); back online, the offline alerts go.

import assert from 'node:assert/strict';

import { demoScenario } from '../lib/demo.js';

/** The service worker script and its imports, which the browser re-checks on navigation. */
const SW_SCRIPTS = ['/sw.js', '/tessera-sw-lib.js', '/tessera_sw.js', '/tessera_sw_bg.wasm'];

/**
 * Playwright's `setOffline` cuts the network for the reloaded page and its worker, but the new
 * document starts with `navigator.onLine === true`; applying the same emulation on the page's
 * session again makes Chromium report offline (and fire `offline`), as a real disconnect does.
 */
async function offlineForPage(env, offline = true) {
  await env.cdp('Network.enable');
  await env.cdp('Network.emulateNetworkConditions', {
    offline,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: -1,
  });
}

demoScenario('demo offline: app reloads, destinations on-device, summarizer and update check say it is offline', async (env) => {
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

  await env.checkForUpdate();
  const note = await env.text('dl-update');
  assert.match(
    note,
    /^Update not installed \u2014 version 1\.0\.0 keeps working\. The update server can\u2019t be reached \(this device may be offline\)/,
    `the update note words the offline check for a stored model: ${note}`,
  );
  assert.doesNotMatch(note, /nothing verified is stored/, 'the update note does not claim nothing is stored');
  assert.match(await env.text('dl-state'), /^Ready\b/, 'the card still says Ready after the offline check');

  // The browser's own update check of the service worker script is not covered by the
  // emulation (it is not the page's or the worker's request); everything else must stay local.
  const leaked = env.proxy.log.slice(before).filter((e) => !SW_SCRIPTS.includes(e.path));
  assert.deepEqual(leaked.map((e) => `${e.method} ${e.path}`), [], 'nothing the app asked for reached the network offline');

  await env.browser.setOffline(false);
  await offlineForPage(env, false);
  await env.page.waitForFunction(() => document.getElementById('net-text').textContent === 'Online', null, {
    timeout: 5_000,
  });
  assert.equal(await env.text('sum-error'), '', 'the summarizer\u2019s offline alert goes once back online');
  assert.equal(await env.text('dl-update'), '', 'the offline update note goes once back online');
});
