// "Remove from device" in the Wayfarer demo asks first, in the page's own dialog, saying how much
// space removing frees (the stored model's bytes): "Keep it" removes nothing (the model is still
// served from the device, no byte downloaded again); "Remove" removes it and says how much space
// it freed. The model details also say whether the browser keeps the model for good
// (`navigator.storage.persisted()`) and what that means.

import assert from 'node:assert/strict';

import { demoScenario } from '../lib/demo.js';

/** The app's way of writing a byte count of a few MB. */
const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;

demoScenario('demo remove: asks first in a dialog with the space it frees; cancel keeps, confirm removes', async (env) => {
  const size = mb(await env.totalBytes('recommender'));
  await env.load();
  await env.waitReady();
  await env.page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 20_000 });
  const page = env.page;

  await env.showModelDetails();
  const persisted = await page.evaluate(() => navigator.storage.persisted());
  await page.locator(`#storage-note[data-persisted="${persisted}"]`).waitFor({ timeout: 5_000 });
  assert.match(
    await env.text('storage-note'),
    persisted
      ? /^Storage is persistent: the browser won\u2019t delete the model to free space; only you can remove it\.$/
      : /^Storage isn\u2019t persistent: the browser may delete the model if this device runs low on space, and it then downloads again when you\u2019re online\.$/,
    `the details say whether storage is persisted (persisted() = ${persisted})`,
  );

  const dialog = page.getByRole('dialog', { name: 'Remove the recommender from this device?' });
  const askToRemove = async () => {
    await page.getByRole('button', { name: 'Remove from device' }).click();
    await dialog.waitFor({ state: 'visible', timeout: 5_000 });
    assert.match(await dialog.innerText(), new RegExp(`This frees ${size.replace('.', '\\.')} on this device\\.`), 'the dialog says how much space removing frees');
  };

  // Cancel: nothing removed.
  await askToRemove();
  const shardsBefore = env.proxy.requests('/models/_shards/').length;
  await dialog.getByRole('button', { name: 'Keep it' }).click();
  await dialog.waitFor({ state: 'hidden', timeout: 5_000 });
  assert.match(await env.text('dl-state'), /^Ready\b/, 'after "Keep it" the model is still ready');
  assert.equal(await env.text('dl-update'), '', 'after "Keep it" nothing says it was removed');
  const kept = await env.pageFile('recommender');
  assert.equal(kept.status, 200, 'after "Keep it" the model is still served');
  assert.equal(env.proxy.requests('/models/_shards/').length, shardsBefore, 'after "Keep it" no shard was downloaded again');

  // Escape closes the dialog like "Keep it".
  await askToRemove();
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden', timeout: 5_000 });
  assert.match(await env.text('dl-state'), /^Ready\b/, 'after Escape the model is still ready');

  // Confirm: removed, and the page says how much space was freed.
  await askToRemove();
  await dialog.getByRole('button', { name: 'Remove', exact: true }).click();
  await dialog.waitFor({ state: 'hidden', timeout: 5_000 });
  await page.waitForFunction(() => document.getElementById('dl-state').classList.contains('state-absent'), null, { timeout: 10_000 });
  assert.equal(await env.text('dl-state'), 'Not on this device yet', 'the status line says the model is gone');
  assert.equal(await env.text('dl-update'), `Removed from this device: ${size} freed.`, 'the page says how much space was freed');
  assert.equal(await env.text('dl-retry'), 'Download again', 'the model can be downloaded again');
  const status = await page.evaluate(async () => (await import('/tessera-client.js')).Tessera.status('recommender'));
  assert.notEqual(status.state, 'ready', `the service worker no longer stores the model: ${JSON.stringify(status)}`);
});
