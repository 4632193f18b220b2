// A new version: the worker downloads only the shards that changed, keeps serving the old version
// (whole, never mixed) while the update downloads, then switches to the new one.

import assert from 'node:assert/strict';

import { SHARD_SIZE, shardsOf } from '../lib/fixtures.js';
import { assertServedExactly, scenario, shardOf, shardRequests, until } from '../lib/scenario.js';

scenario('an update fetches only changed shards and switches atomically', async (env) => {
  const v1 = await env.fixture.manifest('1.0.0');
  const old = new Map(env.fixture.files);
  const ready = await env.ensure();
  assert.ok(ready.ok, `ensureModel failed: ${JSON.stringify(ready.error)}`);

  env.fixture.changeRegion('weights.bin', 3 * SHARD_SIZE + 4096, 8192);
  env.fixture.files.set('config.json', Buffer.from('{"model":"tiny","layers":4,"hidden":64}\n'));
  const v2 = await env.fixture.pack('1.1.0');
  const known = new Set(shardsOf(v1).map((s) => s.sha256));
  const changed = shardsOf(v2).filter((s) => !known.has(s.sha256));
  assert.equal(changed.length, 2, 'fixture: expected one weights shard and config.json to change');
  const changedWeights = changed.find((s) => s.file === 'weights.bin').sha256;

  const mark = shardRequests(env).length;
  env.proxy.addFault({
    path: (e) => e.path.startsWith('/models/_shards/') && shardOf(e) === changedWeights,
    stallAfter: 100_000,
    times: 1,
  });
  const stalled = () => env.proxy.log.some((e) => e.stalled);
  const update = env.checkUpdate();
  const first = await Promise.race([update, until(async () => stalled() && 'stalled', { what: 'update download' })]);
  let finishing = update;
  if (first !== 'stalled') {
    // checkUpdate only found the new version; ensureModel downloads it.
    assert.ok(first.ok, `checkUpdate failed: ${JSON.stringify(first.error)}`);
    finishing = env.ensure();
    await until(async () => stalled(), { what: 'update download after ensureModel' });
  }

  // Mid-update, the page still gets the old version, whole.
  const during = await env.fetchModelFile('weights.bin');
  assertServedExactly(during, old.get('weights.bin'), 'weights.bin during the update');
  assert.equal(during.headers['x-tessera-version'], '1.0.0');
  assertServedExactly(await env.fetchModelFile('config.json'), old.get('config.json'), 'config.json during the update');

  env.proxy.releaseStalls('continue');
  const done = await finishing;
  assert.ok(done.ok, `the update failed: ${JSON.stringify(done.error)}`);
  let status = (await env.status()).status;
  if (status?.version !== '1.1.0') {
    const ensured = await env.ensure();
    assert.ok(ensured.ok, `ensureModel after the update failed: ${JSON.stringify(ensured.error)}`);
    status = ensured.status;
  }
  assert.equal(status.version, '1.1.0');
  assert.equal(status.state, 'ready');

  const after = await env.fetchModelFile('weights.bin');
  assertServedExactly(after, env.fixture.files.get('weights.bin'), 'weights.bin after the update');
  assert.equal(after.headers['x-tessera-version'], '1.1.0');
  assertServedExactly(await env.fetchModelFile('config.json'), env.fixture.files.get('config.json'), 'config.json after the update');

  const fetched = shardRequests(env).slice(mark);
  assert.deepEqual(
    [...new Set(fetched.map(shardOf))].sort(),
    changed.map((s) => s.sha256).sort(),
    'the update must fetch exactly the changed shards',
  );
  const changedBytes = changed.reduce((sum, s) => sum + s.size, 0);
  assert.equal(fetched.reduce((sum, e) => sum + e.bytes, 0), changedBytes, 'bytes fetched for the update');
});
