// The Wayfarer demo leads with the planner, on a phone-sized screen (390 px): the model's state is
// one status line whose details (signed manifest, version, shards) open on demand, "Where models
// run" sits behind a Settings button (a dialog), asking scrolls the answer into view, and the
// itinerary brief has a "Copy" button that puts it on the clipboard.

import assert from 'node:assert/strict';

import { demoScenario } from '../lib/demo.js';

/**
 * Waits until `#id` was scrolled into view: its top near the top of the viewport, or (when the
 * page ends before that can be) all of it on screen. Returns its box in the viewport.
 */
async function scrolledTo(env, id) {
  const inView = (el) => {
    const r = document.getElementById(el).getBoundingClientRect();
    return r.top >= -2 && (r.top < 80 || r.bottom <= window.innerHeight + 1);
  };
  await env.page.waitForFunction(inView, id, { timeout: 5_000 }).catch(() => {});
  return env.page.locator(`#${id}`).evaluate((el) => {
    const r = el.getBoundingClientRect();
    return { top: Math.round(r.top), bottom: Math.round(r.bottom), height: window.innerHeight };
  });
}

demoScenario('demo layout: planner first, status line with details, settings dialog, answers scrolled into view, copy', async (env) => {
  const shards = await env.shardCount('recommender');
  await env.page.setViewportSize({ width: 390, height: 844 });
  await env.browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: env.origin });
  await env.load();
  await env.waitReady();
  const page = env.page;

  // The status line: state, percentage, and the details closed.
  assert.match(await env.text('dl-state'), /^Ready\b/, 'the status line says ready');
  assert.equal(await env.text('dl-pct'), '100 %', 'the status line shows the percentage');
  assert.equal(await env.text('dl-shards'), '', 'shards are in the closed details');
  assert.equal(await env.text('dl-version'), '', 'the version is in the closed details');
  const planner = await page.locator('#rec-title').boundingBox();
  assert.ok(planner && planner.y < 844, `the planner starts on the first screen: ${JSON.stringify(planner)}`);
  await page.getByText('Model details', { exact: true }).click();
  assert.equal(await env.text('dl-shards'), `${shards} of ${shards} shards verified`, 'details: shards');
  assert.equal(await env.text('dl-version'), 'version 1.0.0', 'details: version');
  assert.match(await page.locator('#dl-details').innerText(), /signed manifest/, 'details: the signed manifest');

  // Settings: behind a button, in a dialog with its heading, closed again with "Done".
  assert.equal(await page.locator('#policy-recommender').isVisible(), false, '"Where models run" is not on the page until asked');
  await page.getByRole('button', { name: 'Settings' }).click();
  const settings = page.getByRole('dialog', { name: 'Where models run' });
  await settings.waitFor({ state: 'visible', timeout: 5_000 });
  assert.equal(await settings.getByLabel('Destination recommender').inputValue(), 'prefer-local', 'settings: the recommender policy');
  await settings.getByRole('button', { name: 'Done' }).click();
  await settings.waitFor({ state: 'hidden', timeout: 5_000 });

  // Asking scrolls the answer into view (on a phone the form fills the screen).
  await env.recommend();
  assert.equal(await env.text('rec-error'), '', 'recommender shows no error');
  // Eight destinations, one a row: taller than the screen, so only a scroll puts their top there.
  const rec = await scrolledTo(env, 'rec-out');
  assert.ok(rec.top >= -2 && rec.top < 80, `the destinations are scrolled into view: ${JSON.stringify(rec)}`);

  await env.summarize();
  assert.equal(await env.text('sum-error'), '', 'summarizer shows no error');
  const sum = await scrolledTo(env, 'sum-out');
  assert.ok(sum.top >= -2 && (sum.top < 80 || sum.bottom <= sum.height + 1), `the brief is scrolled into view: ${JSON.stringify(sum)}`);
  await env.screenshot('demo-layout-phone', 390);

  // Copy: the brief, one key sentence a line, on the clipboard.
  const sentences = await page.locator('#sum-list li').allTextContents();
  assert.ok(sentences.length >= 1, 'the brief lists key sentences');
  await page.getByRole('button', { name: 'Copy' }).click();
  await page.waitForFunction(() => document.getElementById('sum-copied').textContent !== '', null, { timeout: 5_000 });
  assert.equal(await env.text('sum-copied'), 'Copied to the clipboard.', 'the page says the brief was copied');
  const clipboard = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(clipboard, sentences.map((s) => `\u2022 ${s}`).join('\n'), 'the clipboard holds the brief');
  await env.screenshot('demo-layout-desktop', 1280);
});
