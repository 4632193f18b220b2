// A big download asks first: above the threshold the app sets (`?askAbove=BYTES` here, so the
// 28 MB recommender counts as big), Wayfarer asks in its own dialog, saying the size and what it
// knows of the time and the room left, before a byte of the model is fetched. "Not now" fetches
// nothing (answers come from the edge meanwhile); "Download" downloads. When the disk is full the
// error says the service worker's figures in words (what is missing, the room left) and what the
// user can do.

import assert from 'node:assert/strict';

import { demoScenario } from '../lib/demo.js';

const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;

/** Opens the app with a 1 MB "ask first" threshold and waits for the download dialog. */
async function openAsking(env) {
  await env.page.goto(`${env.origin}/?askAbove=1000000`, { waitUntil: 'load' });
  await env.page.locator('#prefs-fields fieldset').first().waitFor({ timeout: 20_000 });
  const dialog = env.page.getByRole('dialog', { name: 'Download the recommender to this device?' });
  await dialog.waitFor({ state: 'visible', timeout: 20_000 });
  return dialog;
}

/** Requests for the recommender's shards (the summarizer, 3 MB, is stored beside it on its own). */
async function recommenderShardRequests(env) {
  const manifest = await env.manifest('recommender');
  const shards = new Set(manifest.files.flatMap((f) => f.shards.map((s) => s.sha256)));
  return env.proxy.requests('/models/_shards/').filter((e) => shards.has(e.path.split('/').pop()));
}

demoScenario('demo big download: asks first with the size; "Not now" fetches nothing, "Download" downloads', async (env) => {
  const size = mb(await env.totalBytes('recommender'));
  const dialog = await openAsking(env);
  const text = await dialog.innerText();
  assert.match(text, new RegExp(`It needs ${size.replace('.', '\\.')} of storage on this device\\.`), text);
  assert.match(text, /How long it takes depends on your connection\./, 'no download measured yet: no time promised');
  assert.match(text, /This site may still store [0-9.]+ (MB|GB) here\./, text);

  await dialog.getByRole('button', { name: 'Not now' }).click();
  await dialog.waitFor({ state: 'hidden', timeout: 5_000 });
  assert.match(await env.text('dl-state'), /^Not downloaded yet/);
  assert.equal((await recommenderShardRequests(env)).length, 0, '"Not now" downloaded a recommender shard');

  // Asking for destinations meanwhile gets an answer from the edge, still without a download.
  await env.recommend();
  assert.equal(await env.page.locator('#rec-error').isVisible(), false, await env.text('rec-error'));
  assert.equal((await recommenderShardRequests(env)).length, 0, 'an answer fetched the declined model');

  await env.page.getByRole('button', { name: 'Download', exact: true }).click();
  await env.waitReady();
  assert.ok((await recommenderShardRequests(env)).length > 0, 'the model was downloaded');
});

demoScenario('demo big download: a full disk is explained with the figures and what to do', async (env) => {
  const dialog = await openAsking(env);
  await dialog.getByRole('button', { name: 'Not now' }).click();
  await env.page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 20_000 });
  const usage = await env.page.evaluate(async () => (await navigator.storage.estimate()).usage ?? 0);
  await env.cdp('Storage.overrideQuotaForOrigin', { origin: env.origin, quotaSize: usage + 2 * 1024 * 1024 });

  await env.page.getByRole('button', { name: 'Download', exact: true }).click();
  const error = env.page.locator('#dl-error');
  await error.waitFor({ state: 'visible', timeout: 40_000 });
  const words = await error.innerText();
  assert.match(words, /There isn\u2019t enough free storage on this device/, words);
  assert.match(words, /The model still needs [0-9.]+ MB; this site may store [0-9.]+ (kB|MB|GB|B) more here\./, words);
  assert.match(words, /Free space on this device/, words);
  assert.equal(await env.page.getByRole('button', { name: 'Retry download' }).isVisible(), true);
});
