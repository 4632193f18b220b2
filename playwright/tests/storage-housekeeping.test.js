// Version housekeeping and the warning before a big download, as an app sees them:
// `Tessera.storage()` lists the stored models with the bytes each holds alone and the bytes they
// share, and when each was last served (kept across a worker restart, written at most once a
// minute); `remove` frees exactly the unshared shards and the other model is still served;
// `Tessera.estimate()` gives the bytes still missing before a download (0 after) and, once a
// download was measured, the time the next one takes.

import assert from 'node:assert/strict';

import { Fixture, SHARD_SIZE, uniqueShards } from '../lib/fixtures.js';
import { EXPECTED_STORAGE, assertServedExactly, callClient as client, scenario, shardOf, shardRequests, until } from '../lib/scenario.js';

async function call(env, method, ...args) {
  const r = await client(env, method, ...args);
  assert.ok(r.ok, `Tessera.${method}(${args.map((a) => JSON.stringify(a)).join(', ')}) failed: ${JSON.stringify(r.error)}`);
  return r.value;
}

const sum = (shards) => shards.reduce((a, s) => a + s.size, 0);
const byName = (report) => Object.fromEntries(report.models.map((m) => [m.name, m]));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

scenario('storage() lists two models sharing shards, lastUsed follows serving, remove frees exactly the unshared bytes, estimate() warns before a download', async (env) => {
  // A second model published beside the first: same weights but one shard changed, its own config.
  const other = new Fixture(env.fixture.dir, 'tiny-b', new Map(env.fixture.files));
  other.changeRegion('weights.bin', 5 * SHARD_SIZE + 100, 5000);
  other.files.set('config.json', Buffer.from('{"model":"tiny-b","layers":3,"hidden":64}\n'));
  const a = uniqueShards(await env.fixture.manifest('1.0.0'));
  const b = uniqueShards(await other.pack('1.0.0'));
  const inB = new Set(b.map((s) => s.sha256));
  const inA = new Set(a.map((s) => s.sha256));
  const onlyA = sum(a.filter((s) => !inB.has(s.sha256)));
  const onlyB = sum(b.filter((s) => !inA.has(s.sha256)));
  const shared = sum(a.filter((s) => inB.has(s.sha256)));
  assert.ok(onlyA > 0 && onlyB > 0 && shared > 5 * SHARD_SIZE, 'fixture: the models share most shards');

  // Before any download: nothing stored, the whole model missing, no speed measured yet.
  const empty = await call(env, 'storage');
  assert.deepEqual(empty.models, []);
  assert.equal(empty.bytes, 0);
  assert.equal(empty.backend, EXPECTED_STORAGE);
  assert.equal(typeof empty.persisted, 'boolean');
  assert.ok(empty.quota > 0 && empty.usage >= 0, `usage/quota: ${JSON.stringify(empty)}`);
  const before = await call(env, 'estimate', env.model);
  assert.equal(before.model, env.model);
  assert.equal(before.version, '1.0.0');
  assert.equal(before.bytes, sum(a));
  assert.equal(before.missing, sum(a));
  assert.equal(before.etaSeconds, null, 'no download measured yet: no time estimate');
  assert.equal(before.bytesPerSecond, null);
  assert.ok(before.available > sum(a), `available: ${before.available}`);
  assert.equal(shardRequests(env).length, 0, 'estimate() downloads no shard');
  assert.deepEqual((await call(env, 'storage')).models, [], 'estimate() stores nothing');

  const first = await env.ensure();
  assert.ok(first.ok, `ensureModel failed: ${JSON.stringify(first.error)}`);
  const after = await call(env, 'estimate', env.model);
  assert.equal(after.missing, 0);
  assert.equal(after.etaSeconds, 0, 'nothing missing: nothing to wait for');
  assert.ok(after.bytesPerSecond > 0, `a speed was measured: ${JSON.stringify(after)}`);

  // The second model: only its unshared bytes are missing, with a time from the measured speed.
  const next = await call(env, 'estimate', other.name);
  assert.equal(next.bytes, sum(b));
  assert.equal(next.missing, onlyB, 'shards the first model stored are not missing');
  assert.ok(Number.isInteger(next.etaSeconds) && next.etaSeconds >= 1, `etaSeconds: ${next.etaSeconds}`);
  assert.equal(next.etaSeconds, Math.max(1, Math.ceil(onlyB / next.bytesPerSecond)));
  const second = await env.ensure(other.name);
  assert.ok(second.ok, `ensureModel('${other.name}') failed: ${JSON.stringify(second.error)}`);
  assert.equal((await call(env, 'estimate', other.name)).missing, 0);

  // Two models, each with the bytes only it holds and the bytes they share; never served yet.
  const two = await call(env, 'storage');
  assert.deepEqual(two.models.map((m) => m.name), [env.model, other.name]);
  const listed = byName(two);
  for (const [name, bytes] of [[env.model, onlyA], [other.name, onlyB]]) {
    const m = listed[name];
    assert.deepEqual(
      { version: m.version, active: m.active, bytes: m.bytes, sharedBytes: m.sharedBytes, missingBytes: m.missingBytes, lastUsed: m.lastUsed, backend: m.backend },
      { version: '1.0.0', active: true, bytes, sharedBytes: shared, missingBytes: 0, lastUsed: null, backend: EXPECTED_STORAGE },
      `${name}: ${JSON.stringify(m)}`,
    );
    assert.equal(m.persisted, two.persisted);
  }
  assert.equal(two.bytes, onlyA + onlyB + shared, 'every stored shard counted once');

  // Serving a byte of the first model records its last use; the other stays unused.
  const t0 = Date.now();
  assertServedExactly(await env.fetchModelFile('weights.bin'), env.fixture.files.get('weights.bin'), 'weights.bin');
  const t1 = Date.now();
  const used = byName(await call(env, 'storage'));
  const firstUse = used[env.model].lastUsed;
  assert.ok(firstUse >= t0 - 1000 && firstUse <= t1 + 1000, `lastUsed ${firstUse} not within [${t0}, ${t1}]`);
  assert.equal(used[other.name].lastUsed, null);

  // Served again a moment later: lastUsed moves (the worker's memory; the record is written
  // at most once a minute, so the stored figure is still the first use).
  await sleep(1100);
  const range = await env.fetchModelFile('config.json', { range: 'bytes=0-9' });
  assert.equal(range.status, 206);
  const again = byName(await call(env, 'storage'))[env.model].lastUsed;
  assert.ok(again >= firstUse + 1000, `lastUsed did not move: ${firstUse} → ${again}`);

  // The browser stops the worker: the last use written to the store survives (the first one,
  // as the second came within the minute), and the next serve moves it again.
  await env.browser.stopAllWorkers();
  const restarted = byName(await call(env, 'storage'));
  assert.equal(restarted[env.model].lastUsed, firstUse, 'the stored lastUsed (written once per minute)');
  assert.equal(restarted[other.name].lastUsed, null);
  await sleep(50);
  assertServedExactly(await env.fetch(`/models/${other.name}/config.json`), other.files.get('config.json'), `${other.name} config.json`);
  const otherUse = byName(await call(env, 'storage'))[other.name].lastUsed;
  assert.ok(otherUse > firstUse, `${other.name} lastUsed: ${otherUse}`);
  // The measured speed outlives the worker too (the store keeps the last figure).
  assert.ok((await call(env, 'estimate', env.model)).bytesPerSecond > 0);

  // Remove the first model: exactly its unshared bytes are freed; the shared ones stay, the
  // other model now holds them alone and is still served without a byte downloaded.
  const shardMark = shardRequests(env).length;
  const removed = await env.page.evaluate((m) => window.harness.remove(m), env.model);
  assert.ok(removed.ok, `remove failed: ${JSON.stringify(removed.error)}`);
  const one = await call(env, 'storage');
  assert.deepEqual(one.models.map((m) => m.name), [other.name]);
  assert.equal(two.bytes - one.bytes, onlyA, 'remove frees exactly the unshared bytes');
  const kept = one.models[0];
  assert.equal(kept.bytes, onlyB + shared, `${other.name} now holds the shared shards alone`);
  assert.equal(kept.sharedBytes, 0);
  assert.equal(kept.missingBytes, 0);
  assert.equal(kept.lastUsed, otherUse);
  const gone = await call(env, 'estimate', env.model);
  assert.equal(gone.missing, onlyA, 'only the removed model\'s unshared shards are gone');
  assert.ok(gone.etaSeconds >= 1);
  for (const [file, bytes] of other.files) {
    assertServedExactly(await env.fetch(`/models/${other.name}/${file}`), bytes, `${other.name} ${file}`);
  }
  assert.equal(shardRequests(env).length, shardMark, 'nothing downloaded again for the kept model');
}, { timeout: 90_000 });

scenario('during an update storage() lists both versions of the model; after the switch only the new one, the old one\'s own shards freed', async (env) => {
  const v1 = uniqueShards(await env.fixture.manifest('1.0.0'));
  const ready = await env.ensure();
  assert.ok(ready.ok, `ensureModel failed: ${JSON.stringify(ready.error)}`);
  env.fixture.changeRegion('weights.bin', 3 * SHARD_SIZE + 4096, 8192);
  const v2 = uniqueShards(await env.fixture.pack('1.1.0'));
  const inV1 = new Set(v1.map((s) => s.sha256));
  const inV2 = new Set(v2.map((s) => s.sha256));
  const added = v2.filter((s) => !inV1.has(s.sha256));
  const dropped = sum(v1.filter((s) => !inV2.has(s.sha256)));
  const kept = sum(v1.filter((s) => inV2.has(s.sha256)));
  assert.equal(added.length, 1, 'fixture: one shard changes');

  // The new version's only new shard stalls mid-download.
  env.proxy.addFault({
    path: (e) => e.path.startsWith('/models/_shards/') && shardOf(e) === added[0].sha256,
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

  const during = await call(env, 'storage');
  assert.deepEqual(
    during.models.map(({ name, version, active, bytes, sharedBytes, missingBytes }) => ({ name, version, active, bytes, sharedBytes, missingBytes })),
    [
      { name: env.model, version: '1.0.0', active: true, bytes: dropped, sharedBytes: kept, missingBytes: 0 },
      { name: env.model, version: '1.1.0', active: false, bytes: 0, sharedBytes: kept, missingBytes: sum(added) },
    ],
    'the served version and the update being downloaded, sharing all but one shard',
  );
  assert.equal(during.bytes, sum(v1), 'the update stores nothing twice');
  const estimate = await call(env, 'estimate', env.model);
  assert.deepEqual([estimate.version, estimate.missing, estimate.etaSeconds], ['1.0.0', 0, 0], 'the served version is whole');

  env.proxy.releaseStalls('continue');
  const done = await finishing;
  assert.ok(done.ok, `the update failed: ${JSON.stringify(done.error)}`);
  if ((await env.status()).status?.version !== '1.1.0') {
    const ensured = await env.ensure();
    assert.ok(ensured.ok, `ensureModel after the update failed: ${JSON.stringify(ensured.error)}`);
  }
  const switched = await call(env, 'storage');
  assert.deepEqual(
    switched.models.map(({ name, version, active, bytes, sharedBytes, missingBytes }) => ({ name, version, active, bytes, sharedBytes, missingBytes })),
    [{ name: env.model, version: '1.1.0', active: true, bytes: sum(v2), sharedBytes: 0, missingBytes: 0 }],
  );
  assert.equal(switched.bytes, sum(v2), 'the old version\'s own shard is freed');
  assertServedExactly(await env.fetchModelFile('weights.bin'), env.fixture.files.get('weights.bin'), 'weights.bin after the update');
});
