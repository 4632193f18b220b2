// Two tabs of the same origin ask for the same model at the same time, while the download is
// slow enough to overlap: both calls resolve `ready`, both tabs are served the exact bytes, and
// every shard crosses the network exactly once in total (the tabs share one download).

import assert from 'node:assert/strict';

import { shardsOf, uniqueShards } from '../lib/fixtures.js';
import { assertServedExactly, assertShardsFetchedOnce, scenario, settle, shardRequests, totalBytes } from '../lib/scenario.js';

/** Shard throttle: about 1 MiB/s per response, so the 8 MiB model takes a few seconds. */
const SHARD_RATE = 1024 * 1024;

scenario('two tabs ensuring the same model at once share one download', async (env) => {
  const manifest = await env.fixture.manifest('1.0.0');
  env.proxy.addFault({ path: '/models/_shards/', bytesPerSecond: SHARD_RATE });

  // A second tab of the same origin, controlled by the same worker.
  const page2 = await env.browser.context.newPage();
  page2.on('pageerror', (err) => env.browser.note('page2', `uncaught: ${err.stack ?? err}`));
  const tab2 = Object.create(env);
  tab2.page = page2;
  await tab2.load();

  const first = env.ensure();
  await env.proxy.waitFor((p) => p.requests('/models/_shards/').length > 0, { what: 'tab 1 download to start' });
  const second = tab2.ensure();
  // The second call really overlaps the first download: some shard is still in flight.
  assert.ok(
    shardRequests(env).some((e) => !e.done) || shardRequests(env).length < shardsOf(manifest).length,
    'the first download finished before the second tab asked: no overlap to test',
  );

  const [r1, r2] = await settle(Promise.all([first, second]), 60_000, 'both ensureModel calls');
  assert.ok(r1.ok, `tab 1 ensureModel failed: ${JSON.stringify(r1.error)}`);
  assert.ok(r2.ok, `tab 2 ensureModel failed: ${JSON.stringify(r2.error)}`);
  const total = totalBytes(manifest);
  assert.ok(
    r2.progress.some((s) => s.state === 'downloading' && s.bytesDone < total),
    `tab 2 never saw the download in progress (it did not overlap): ${JSON.stringify(r2.progress.map((s) => [s.state, s.bytesDone]))}`,
  );
  for (const [tab, r] of [['tab 1', r1], ['tab 2', r2]]) {
    assert.equal(r.status.state, 'ready', `${tab} state`);
    assert.equal(r.status.version, '1.0.0', `${tab} version`);
  }

  for (const [tab, e] of [['tab 1', env], ['tab 2', tab2]]) {
    for (const file of ['weights.bin', 'config.json']) {
      assertServedExactly(await e.fetchModelFile(file), env.fixture.files.get(file), `${tab}: ${file}`);
    }
  }

  // One download in total: each shard range asked once, each shard's bytes sent once.
  assertShardsFetchedOnce(env, uniqueShards(manifest), 'both tabs');
  assert.equal(env.proxy.bytesSent('/models/_shards/'), total, 'shard bytes sent in total');
}, { timeout: 90_000 });
