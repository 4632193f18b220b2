// The Wayfarer demo when the server publishes bad updates of the recommender, one after the
// other in one world: a new version with a tampered shard, a manifest with a broken signature, a
// rollback to an older version and an expired manifest. For each, "Check for updates" says in
// words (demo-pwa/ui/messages.js) why the update was not installed, the card stays Ready with
// version 1.0.0, the page is still served exactly 1.0.0's model file and destinations are still
// ranked on this device.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { describeError } from '../../demo-pwa/ui/messages.js';
import { demoScenario, ON_DEVICE } from '../lib/demo.js';
import { sha256Hex, shardsOf } from '../lib/fixtures.js';

const MODEL = 'recommender';

demoScenario('demo bad updates: each is refused in words and version 1.0.0 keeps working', async (env) => {
  const v1 = await env.manifest(MODEL);
  const v1Sha = sha256Hex(await readFile(path.join(env.models, `${MODEL}.onnx`)));
  await env.load();
  await env.waitReady();
  await env.checkForUpdate();
  assert.equal(await env.text('dl-update'), 'You have the latest version (1.0.0).', 'no update yet');

  /** What the user sees after a refused update: the reason, the card and the answers. */
  const assertRefused = async (code, step) => {
    const note = env.page.locator('#dl-update');
    assert.equal(await note.getAttribute('data-code'), code, `${step}: error code on the update note`);
    const text = await env.text('dl-update');
    assert.ok(
      text.startsWith('Update not installed \u2014 version 1.0.0 keeps working.') && text.includes(describeError(code)),
      `${step}: the update note words ${code}: ${text}`,
    );
    assert.ok(text.endsWith(code), `${step}: the update note shows the code: ${text}`);
    assert.match(await env.text('dl-state'), /^Ready\b/, `${step}: the card still says Ready`);
    assert.equal(await env.text('dl-version'), 'version 1.0.0', `${step}: the card still shows 1.0.0`);
    assert.equal(await env.text('dl-error'), '', `${step}: no download error`);

    const file = await env.pageFile(MODEL);
    assert.equal(file.status, 200, `${step}: model.onnx status`);
    assert.equal(file.sha256, v1Sha, `${step}: the page is served exactly 1.0.0's model.onnx`);
    assert.equal(file.version, '1.0.0', `${step}: X-Tessera-Version`);

    await env.page.locator('#rec-list').evaluate((list) => list.replaceChildren());
    await env.recommend();
    assert.equal(await env.text('rec-error'), '', `${step}: the recommender shows no error`);
    assert.ok((await env.page.locator('#rec-list li.dest').count()) >= 3, `${step}: ranked destinations shown`);
    assert.match(await env.text('rec-meta .source'), ON_DEVICE, `${step}: recommendations ran on this device`);
  };
  const shardsFetched = async () => (await env.requestLog()).filter((r) => r.path.startsWith('/models/_shards/')).length;

  // The edge verifies 1.0.0 the first time it is asked (a fresh edge that only ever saw a bad
  // manifest has no good version to keep, and refuses with the code).
  await env.choosePolicy(MODEL, 'edge-only');
  await env.recommend();
  assert.equal(await env.text('rec-meta .source'), 'Edge', 'the edge answers with 1.0.0');
  await env.choosePolicy(MODEL, 'prefer-local');

  // (a) A validly signed 1.1.0 whose one new shard was tampered with on the server.
  const nudged = await env.nudgedModel(MODEL, { tensor: 'w2', at: 13 * 1024 * 1024 });
  const v11 = await env.pack(MODEL, '1.1.0', { onnx: nudged });
  const known = new Set(shardsOf(v1).map((s) => s.sha256));
  const fresh = shardsOf(v11).filter((s) => !known.has(s.sha256));
  assert.equal(fresh.length, 1, 'fixture: 1.1.0 should change exactly one shard');
  await env.flipShardByte(fresh[0].sha256);
  await env.checkForUpdate();
  await assertRefused('shard-hash-mismatch', 'tampered shard');
  await env.screenshot('demo-update-refused-desktop', 1280);
  await env.screenshot('demo-update-refused-phone', 390);
  // A reload starts a fresh runtime worker: it loads the version the service worker serves
  // (1.0.0, checked against its own signed manifest), not the refused newest one; the edge keeps
  // answering with the 1.0.0 it verified.
  await env.load({ reload: true });
  await env.waitReady();
  await env.recommend();
  assert.equal(await env.text('rec-error'), '', 'after a reload: the recommender shows no error');
  assert.match(await env.text('rec-meta .source'), ON_DEVICE, 'after a reload: recommendations ran on this device');
  await env.choosePolicy(MODEL, 'edge-only');
  await env.recommend();
  assert.equal(await env.text('rec-error'), '', 'after a reload: the edge shows no error');
  assert.equal(await env.text('rec-meta .source'), 'Edge', 'after a reload: the edge answers with the good version');
  await env.choosePolicy(MODEL, 'prefer-local');

  // (b) 1.2.0 with a broken signature.
  let before = await shardsFetched();
  await env.pack(MODEL, '1.2.0');
  await env.tamperSignature(MODEL);
  await env.checkForUpdate();
  await assertRefused('manifest-signature-invalid', 'bad signature');
  assert.equal(await shardsFetched(), before, 'bad signature: shards were downloaded for a refused manifest');

  // (c) A validly signed rollback to 0.9.0, older than the 1.0.0 this device verified.
  before = await shardsFetched();
  await env.pack(MODEL, '0.9.0', { force: true });
  await env.checkForUpdate();
  await assertRefused('manifest-rollback', 'rollback');
  assert.equal(await shardsFetched(), before, 'rollback: shards were downloaded for a refused manifest');

  // (d) A validly signed 1.3.0 whose manifest has expired.
  before = await shardsFetched();
  await env.packExpired(MODEL, '1.3.0', { onnx: nudged });
  await env.checkForUpdate();
  await assertRefused('manifest-expired', 'expired manifest');
  assert.equal(await shardsFetched(), before, 'expired manifest: shards were downloaded for a refused manifest');
});
