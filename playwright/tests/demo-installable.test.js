// The Wayfarer demo is an installable PWA: once the tessera service worker controls the page,
// Chromium reports no installability errors (manifest, icons and service worker all count). The
// page has a heading, the manifest lists its maskable icons apart from the plain ones, and the
// app directory serves no source-only file (the demo's README).

import assert from 'node:assert/strict';

import { demoScenario } from '../lib/demo.js';

demoScenario('demo installable: no installability errors once the service worker controls the page', async (env) => {
  await env.load();
  await env.page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 20_000 });
  const manifest = await env.cdp('Page.getAppManifest');
  assert.deepEqual(manifest.errors, [], `manifest parse errors: ${JSON.stringify(manifest.errors)}`);
  assert.match(manifest.url, /\/manifest\.webmanifest$/, 'the page links its manifest');
  const { installabilityErrors } = await env.cdp('Page.getInstallabilityErrors');
  assert.deepEqual(
    installabilityErrors.map((e) => e.errorId),
    [],
    `installability errors: ${JSON.stringify(installabilityErrors)}`,
  );

  const headings = await env.page.locator('h1').allTextContents();
  assert.deepEqual(headings.map((h) => h.trim()), ['Wayfarer'], 'the page has one h1');
  const icons = JSON.parse(manifest.data).icons;
  const purposes = (purpose) => icons.filter((i) => i.purpose === purpose).map((i) => i.sizes).sort();
  assert.deepEqual(purposes('any'), ['192x192', '512x512'], `plain icons: ${JSON.stringify(icons)}`);
  assert.deepEqual(purposes('maskable'), ['192x192', '512x512'], `maskable icons, apart: ${JSON.stringify(icons)}`);
  const readme = await env.page.evaluate(async () => (await fetch('/README.md', { cache: 'no-store' })).status);
  assert.equal(readme, 404, 'the demo README is not served from the app');
});
