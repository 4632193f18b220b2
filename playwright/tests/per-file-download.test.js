// Per-file downloads: a library that reads `config.json` first gets it as soon as *its* shards are
// verified — the weights are not downloaded for it; `ensureModel` still means the whole model
// (and fetches nothing twice), and `ensureModel(name, { files })` only those files.

import assert from 'node:assert/strict';

import { uniqueShards } from '../lib/fixtures.js';
import { assertServedExactly, assertShardsFetchedOnce, scenario, shardOf, shardRequests } from '../lib/scenario.js';

/** The set of shard digests of `logical` in `manifest`. */
function shardsOf(manifest, logical) {
  return new Set(manifest.files.find((f) => f.path === logical).shards.map((s) => s.sha256));
}

scenario('a small file is answered after its own shards only; ensureModel then fetches the rest once', async (env, t) => {
  const manifest = await env.fixture.manifest();
  const configShards = shardsOf(manifest, 'config.json');

  const started = Date.now();
  const config = await env.fetchModelFile('config.json');
  const firstAnswerMs = Date.now() - started;
  assertServedExactly(config, env.fixture.files.get('config.json'), 'config.json on a cold start');
  const fetched = shardRequests(env).map(shardOf);
  assert.deepEqual(new Set(fetched), configShards, `shards fetched for config.json: ${fetched.join(', ')}`);
  const bytes = shardRequests(env).reduce((n, e) => n + (e.bytes ?? 0), 0);
  const own = manifest.files.find((f) => f.path === 'config.json').size;
  assert.ok(bytes <= own + 1024, `config.json cost ${bytes} bytes of shards, its own are ${own}`);
  t.diagnostic(`config.json first answer ${firstAnswerMs} ms, ${bytes} shard bytes fetched (file ${own} B)`);

  const ready = await env.ensure();
  assert.ok(ready.ok, `ensureModel failed: ${JSON.stringify(ready.error)}`);
  assert.equal(ready.status.state, 'ready');
  assertShardsFetchedOnce(env, uniqueShards(manifest), 'config.json, then the whole model');
  assertServedExactly(await env.fetchModelFile('weights.bin'), env.fixture.files.get('weights.bin'), 'weights.bin');
});

scenario('ensureModel with files downloads only those files', async (env) => {
  const manifest = await env.fixture.manifest();
  const subset = await env.page.evaluate(async (m) => {
    const { Tessera } = await import('/tessera-client.js');
    try {
      return { ok: true, status: await Tessera.ensureModel(m, { files: ['config.json'] }) };
    } catch (e) {
      return { ok: false, code: e.code, message: e.message };
    }
  }, env.model);
  assert.ok(subset.ok, `ensureModel({files}) failed: ${JSON.stringify(subset)}`);
  assert.deepEqual(new Set(shardRequests(env).map(shardOf)), shardsOf(manifest, 'config.json'));
  await env.browser.setOffline(true);
  assertServedExactly(await env.fetchModelFile('config.json'), env.fixture.files.get('config.json'), 'config.json offline');
});
