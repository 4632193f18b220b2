// The Wayfarer demo is an installable PWA: once the tessera service worker controls the page,
// Chromium reports no installability errors (manifest, icons and service worker all count).

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
});
