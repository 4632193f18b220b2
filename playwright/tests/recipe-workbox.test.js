// Recipe: an app whose own service worker routes with Workbox (workbox-routing and
// workbox-strategies 7.4.1 from npm, served as ES modules the way a bundler would inline them) adds
// tessera with sw/js/tessera-workbox.js (docs/recipes.md#workbox). Through the app's worker:
// `Tessera.ensureModel` works, model files are answered by tessera byte for byte (GET, HEAD,
// Range) and never fetched from the network, although the app's catch-all Workbox route would
// take /models/ too; no cache holds a model file; offline, after the worker was stopped, the page
// starts from Workbox's cache and tessera serves the model.

import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { REPO_ROOT, sha256Hex } from '../lib/fixtures.js';
import { recipeScenario } from '../lib/recipes/world.js';

const MODEL = 'tiny-clf';
const FILES = ['config.json', 'tokenizer.json', 'onnx/model.onnx'];
const WORKBOX_PACKAGES = ['workbox-core', 'workbox-routing', 'workbox-strategies'];
/** The app's worker and its static imports: Chromium checks them for updates even offline. */
const WORKER_SCRIPTS = ['/app-sw.js', '/tessera-sw-lib.js', '/tessera_sw.js', '/tessera-workbox.js'];

/**
 * Copies Workbox's ES modules (`*.js` of each package) into `appDir/workbox/`, doing what a
 * bundler does: bare `workbox-*` imports become paths and `process.env.NODE_ENV` is 'production'.
 */
async function serveWorkboxModules(appDir) {
  for (const pkg of WORKBOX_PACKAGES) {
    const from = path.join(REPO_ROOT, 'node_modules', pkg);
    for (const entry of await readdir(from, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.js')) continue;
      const dir = entry.parentPath ?? entry.path;
      if (path.relative(from, dir).split(path.sep).some((p) => p === 'build' || p === 'src')) continue;
      const text = (await readFile(path.join(dir, entry.name), 'utf8'))
        .replace(/(from\s+|import\s+)(['"])(workbox-[a-z-]+)\//g, '$1$2/workbox/$3/')
        .replaceAll('process.env.NODE_ENV', "'production'");
      const to = path.join(appDir, 'workbox', pkg, path.relative(from, dir));
      await mkdir(to, { recursive: true });
      await writeFile(path.join(to, entry.name), text);
    }
  }
}

recipeScenario(
  'recipe Workbox: tessera route first in a Workbox worker, exact model bytes, no second copy, offline',
  async (env, t) => {
    const scriptURL = await env.page.evaluate(() => navigator.serviceWorker.controller.scriptURL);
    assert.equal(new URL(scriptURL).pathname, '/app-sw.js', 'the app’s own Workbox worker controls the page');
    const files = new Map(await Promise.all(FILES.map(async (f) => [f, await readFile(path.join(env.src, f))])));

    const ready = await env.call('ensure', MODEL);
    assert.ok(ready.ok, `ensureModel through the Workbox worker: ${JSON.stringify(ready.error)}`);
    assert.equal(ready.status.state, 'ready');

    const check = async (what) => {
      for (const [f, bytes] of files) {
        const info = await env.call('fetchInfo', { url: `/models/${MODEL}/${f}` });
        assert.equal(info.status, 200, `${what} ${f}: ${JSON.stringify(info)}`);
        assert.equal(info.sha256, sha256Hex(bytes), `${what} ${f}: bytes`);
        assert.equal(info.headers['x-tessera-version'], '1.0.0', `${what} ${f}: answered by tessera`);
      }
      const head = await env.call('fetchInfo', { url: `/models/${MODEL}/onnx/model.onnx`, method: 'HEAD' });
      assert.equal(head.status, 200, `${what} HEAD`);
      assert.equal(Number(head.headers['content-length']), files.get('onnx/model.onnx').length, `${what} HEAD length`);
      const slice = await env.call('fetchInfo', { url: `/models/${MODEL}/onnx/model.onnx`, range: 'bytes=1000-1999' });
      assert.equal(slice.status, 206, `${what} Range`);
      assert.equal(slice.sha256, sha256Hex(files.get('onnx/model.onnx').subarray(1000, 2000)), `${what} Range bytes`);
    };
    await check('online');
    const timed = await env.call('fetchInfo', { url: `/models/${MODEL}/config.json` });
    t.diagnostic(`config.json through the Workbox route, stored: ${timed.ms.toFixed(1)} ms`);
    env.assertModelBytesOnlyThroughWorker();

    // A controlled reload: the app's own Workbox route now caches the page for offline.
    await env.load({ reload: true });
    const storage = await env.assertNoSecondCopy({ allowed: ['tessera-v1', 'app'] });
    assert.ok(storage.caches.app.some((e) => e.url === '/app.js'), 'the app’s Workbox route still serves and caches the rest');

    const before = env.proxy.log.length;
    await env.reloadOffline({ stopWorker: true });
    await check('offline, fresh worker');
    const leaked = env.requestsSince(before, WORKER_SCRIPTS).filter((e) => !e.path.startsWith('/workbox/'));
    assert.deepEqual(leaked.map((e) => `${e.method} ${e.path}`), [], 'nothing but the worker update check reached the network offline');
    env.assertModelBytesOnlyThroughWorker();
    await env.assertNoSecondCopy({ allowed: ['tessera-v1', 'app'] });
  },
  {
    page: 'workbox',
    models: [{ name: MODEL, entry: 'onnx/model.onnx', files: Object.fromEntries(FILES.map((f) => [f, f])) }],
    config: { appShell: [] },
    prepareApp: serveWorkboxModules,
    timeout: 45_000,
  },
);
