// The composable form inside an app's own cache-first service worker: after the browser stops the
// worker, an offline reload starts the app from the app's own routes (tessera claims only the
// model prefix before its engine has started), `/data.json` comes from the app's cache and the
// model from tessera. A composable worker without skipWaiting/clients.claim makes
// `Tessera.register` fail with `not-controlled` instead of hanging.

import assert from 'node:assert/strict';
import { copyFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Env, assertServedExactly, worldScenario } from '../lib/scenario.js';

const OWN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'own-sw');
const DATA = JSON.stringify({ app: 'own data' });

/** The test app with `sw.js` replaced by the app's own worker `file`, and a `/data.json`. */
async function ownWorld(file) {
  const env = await Env.open({ config: { appShell: [] }, goto: false });
  if (!env.pendingError) {
    await copyFile(path.join(OWN, file), path.join(env.appDir, 'sw.js'));
    await writeFile(path.join(env.appDir, 'data.json'), DATA);
  }
  return env;
}

worldScenario(() => ownWorld('sw.js'), 'an app with its own service worker starts offline after a worker stop', async (env) => {
  await env.load();
  const ready = await env.ensure();
  assert.ok(ready.ok, `ensureModel failed: ${JSON.stringify(ready.error)}`);

  await env.browser.setOffline(true);
  await env.browser.stopAllWorkers();
  await env.load({ reload: true });
  const data = await env.fetch('/data.json');
  assert.equal(data.status, 200, `the app's own route failed offline: ${JSON.stringify(data)}`);
  assert.deepEqual(data.json, JSON.parse(DATA));
  await env.browser.stopAllWorkers();
  await env.load({ reload: true });
  assertServedExactly(await env.fetchModelFile('config.json'), env.fixture.files.get('config.json'), 'model offline');
  assertServedExactly(await env.fetchModelFile('weights.bin'), env.fixture.files.get('weights.bin'), 'weights offline');
});

worldScenario(() => ownWorld('no-claim-sw.js'), 'register fails with not-controlled when the worker never claims the page', async (env) => {
  await env.page.goto(`${env.origin}/data.json`);
  const result = await env.page.evaluate(async () => {
    const { Tessera } = await import('/tessera-client.js');
    const started = Date.now();
    try {
      await Tessera.register('/sw.js', { timeoutMs: 2000 });
      return { ok: true };
    } catch (e) {
      const ready = await Tessera.ready.then(() => 'resolved', (r) => r.code);
      return { ok: false, code: e.code, message: e.message, ms: Date.now() - started, ready };
    }
  });
  assert.equal(result.ok, false, 'register resolved without control');
  assert.equal(result.code, 'not-controlled', result.message);
  assert.match(result.message, /clients\.claim/);
  assert.ok(result.ms < 10_000, `took ${result.ms} ms`);
  assert.equal(result.ready, 'not-controlled', 'Tessera.ready rejects too');
});
