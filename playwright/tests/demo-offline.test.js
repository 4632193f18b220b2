// The Wayfarer demo offline: once the recommender is stored — even if it was never asked for an
// answer online — the app reloads with no network and still ranks destinations on this device.
// The summarizer ("Prefer the edge" by default) was stored for offline use too, so offline this
// device answers and says why; under "Edge only" it says the device is offline and that another
// option lets this device answer (it is stored here) — under "This device only" it just answers.
// "Check for updates" offline says the update server can't be reached and the stored version
// keeps working (not that nothing is stored); back online, the offline alerts go.

import assert from 'node:assert/strict';

import { demoScenario, ON_DEVICE } from '../lib/demo.js';

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

demoScenario('demo offline: app reloads, destinations and the stored summarizer on-device, edge-only and update check say it is offline', async (env) => {
  await env.load();
  await env.waitReady();
  await env.page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 20_000 });
  // "Prefer the edge" promises that this device answers when the edge can't be reached: the
  // summarizer is stored for that, without being asked.
  await env.page.locator('#sum-store[data-state="stored"]').waitFor({ timeout: 20_000 });
  assert.match(
    await env.text('sum-store'),
    /^Stored on this device \([\d.]+ MB, verified\): this device answers when the edge can\u2019t be reached, offline too\.$/,
    'the summarizer says it is stored for offline use',
  );
  const summarizer = await env.pageFile('summarizer');
  assert.equal(summarizer.status, 200, 'the service worker serves the summarizer');
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
  assert.match(await env.text('rec-meta .source'), ON_DEVICE, 'offline recommendations ran on this device');

  // Prefer the edge, offline: this device answers, and says why.
  assert.equal(await env.page.locator('#policy-summarizer').inputValue(), 'prefer-edge', 'the summarizer prefers the edge');
  await env.summarize();
  assert.equal(await env.text('sum-error'), '', 'prefer-edge offline: the summarizer shows no error');
  assert.match(await env.text('sum-meta .source'), ON_DEVICE, 'prefer-edge offline: the brief comes from this device');
  assert.equal(await env.text('sum-meta .reason'), 'because you\u2019re offline', 'prefer-edge offline: the reason');
  assert.ok((await env.page.locator('#sum-list li').count()) >= 1, 'prefer-edge offline: the brief lists key sentences');

  // Edge only, offline: no answer; the message says so and offers this device, which stores it.
  await env.choosePolicy('summarizer', 'edge-only');
  await env.summarize();
  assert.equal(await env.text('sum-meta'), '', 'edge-only offline: no summary');
  const edgeOnly = await env.text('sum-error');
  assert.equal(
    edgeOnly,
    'You\u2019re offline, and your settings run the summarizer on the edge server only. Reconnect to summarize, '
      + 'or choose another option under \u201cWhere models run\u201d to let this device answer: it is stored here.',
    'edge-only offline: the summarizer says the device is offline, and what would answer',
  );
  assert.doesNotMatch(edgeOnly, /This device only/, 'edge-only offline: no option is named for the user to pick');

  // This device only, offline: it answers; nothing tells this user to choose what they chose.
  await env.choosePolicy('summarizer', 'local-only');
  await env.summarize();
  assert.equal(await env.text('sum-error'), '', 'local-only offline: the summarizer shows no error');
  assert.match(await env.text('sum-meta .source'), ON_DEVICE, 'local-only offline: the brief comes from this device');
  assert.equal(await env.text('sum-meta .reason'), '', 'local-only offline: no fallback');
  assert.match(await env.text('sum-store'), /^Stored on this device \([\d.]+ MB, verified\): it runs here, offline too\.$/, 'local-only: the store line');
  await env.choosePolicy('summarizer', 'edge-only');
  await env.summarize();
  assert.match(await env.text('sum-error'), /^You\u2019re offline/, 'edge-only again: the summarizer says the device is offline');

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
