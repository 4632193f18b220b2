// A new recommender version in the Wayfarer demo: 1.1.0 changes a region of the weights (one
// shard; its known-answer tests still pass). "Check for updates" downloads only that shard — the
// server's request log says so — while the card says 1.0.0 keeps working and the page is still
// served 1.0.0's file, whole; then the card switches to 1.1.0 and the page gets 1.1.0's file.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { demoScenario, ON_DEVICE } from '../lib/demo.js';
import { sha256Hex, shardsOf } from '../lib/fixtures.js';
import { shardOf } from '../lib/scenario.js';

const MODEL = 'recommender';

demoScenario('demo update: only the changed shard downloads and the switch to 1.1.0 is atomic', async (env) => {
  const v1 = await env.manifest(MODEL);
  const v1Sha = sha256Hex(await readFile(path.join(env.models, `${MODEL}.onnx`)));
  await env.load();
  await env.waitReady();
  await env.recommend();
  assert.match(await env.text('rec-meta .source'), ON_DEVICE, '1.0.0 ranks destinations on this device');

  const nudged = await env.nudgedModel(MODEL, { tensor: 'w2', at: 9 * 1024 * 1024 });
  const v2Sha = sha256Hex(await readFile(nudged));
  const v2 = await env.pack(MODEL, '1.1.0', { onnx: nudged });
  const known = new Set(shardsOf(v1).map((s) => s.sha256));
  const changed = shardsOf(v2).filter((s) => !known.has(s.sha256));
  assert.equal(changed.length, 1, 'fixture: 1.1.0 should change exactly one of its shards');
  assert.ok(shardsOf(v2).length > 1, 'fixture: the model has several shards');

  const logged = (await env.requestLog()).length;
  env.proxy.addFault({
    path: (e) => e.path.startsWith('/models/_shards/') && shardOf(e) === changed[0].sha256,
    stallAfter: 100_000,
    times: 1,
  });
  await env.showModelDetails();
  await env.page.locator('#dl-check').click();
  await env.proxy.waitFor((p) => p.log.some((e) => e.stalled), { what: 'the update download' });

  // Mid-update: the card says what is going on, and the page still gets 1.0.0, whole.
  await env.page.waitForFunction(
    () => /^Downloading update 1\.1\.0/.test(document.getElementById('dl-state').textContent),
    null,
    { timeout: 10_000 },
  );
  assert.match(await env.text('dl-state'), /version 1\.0\.0 keeps working/, 'the card says 1.0.0 keeps working');
  assert.equal(await env.text('dl-version'), 'version 1.0.0', 'the card shows the version in use');
  const during = await env.pageFile(MODEL);
  assert.equal(during.sha256, v1Sha, 'during the update the page is served exactly 1.0.0');
  assert.equal(during.version, '1.0.0', 'X-Tessera-Version during the update');
  await env.screenshot('demo-update-downloading-desktop', 1280);
  await env.screenshot('demo-update-downloading-phone', 390);

  env.proxy.releaseStalls('continue');
  await env.page.waitForFunction(() => !document.getElementById('dl-update').hidden, null, { timeout: 30_000 });
  assert.equal(
    await env.text('dl-update'),
    'Updated to version 1.1.0: downloaded, verified and switched in one step.',
    'the card says the update is installed',
  );
  assert.match(await env.text('dl-state'), /^Ready\b/, 'the card is ready after the update');
  assert.equal(await env.text('dl-version'), 'version 1.1.0', 'the card shows the new version');
  const after = await env.pageFile(MODEL);
  assert.equal(after.sha256, v2Sha, 'after the switch the page is served exactly 1.1.0');
  assert.equal(after.version, '1.1.0', 'X-Tessera-Version after the switch');

  const fetched = (await env.requestLog()).slice(logged).filter((r) => r.path.startsWith('/models/_shards/'));
  assert.deepEqual(
    [...new Set(fetched.map((r) => r.path.split('/').pop()))],
    [changed[0].sha256],
    'the update downloads exactly the changed shard',
  );
  assert.equal(fetched.reduce((sum, r) => sum + r.bytes, 0), changed[0].size, 'bytes the server sent for the update');

  await env.recommend();
  assert.equal(await env.text('rec-error'), '', 'the recommender shows no error after the update');
  assert.ok((await env.page.locator('#rec-list li.dest').count()) >= 3, 'ranked destinations after the update');
  assert.match(await env.text('rec-meta .source'), ON_DEVICE, '1.1.0 ranks destinations on this device');
});
