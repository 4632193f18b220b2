// Too little storage for the app shell: the service worker installs anyway, with the parts of the
// shell that fit, instead of not at all (before, `cache.addAll` rejected and the page only ever
// saw `no-service-worker`). Model requests are then answered by the worker: with no room for the
// model either, with the typed `quota` error.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { Env, worldScenario } from '../lib/scenario.js';

const BIG = 6 * 1024 * 1024;

worldScenario(
  (o) => Env.open({ ...o, config: { appShell: ['/', '/index.html', '/app.js', '/style.css', '/big.bin'] }, goto: false }),
  'with no room for the whole app shell the worker still installs and answers with typed errors',
  async (env) => {
    await writeFile(path.join(env.appDir, 'big.bin'), Buffer.alloc(BIG, 7));
    // Room for the worker's own files (about 1 MB), not for the 6 MiB file in the shell.
    await env.browser.overrideQuota(env.origin, 3 * 1024 * 1024);
    await env.load();
    const registered = await env.page.evaluate(() => window.harness.registered);
    assert.equal(registered?.ok, true, `registration failed: ${JSON.stringify(registered)}`);
    assert.equal(registered.controlled, true);

    const result = await env.ensure();
    assert.equal(result.ok, false, 'a 7 MiB model fit into 3 MiB');
    assert.equal(result.error.code, 'quota', JSON.stringify(result.error));
  },
);
