// An expired manifest for a newer version: the worker refuses it with `manifest-expired`,
// downloads nothing for it and keeps serving the version it has.

import assert from 'node:assert/strict';

import { SHARD_SIZE } from '../lib/fixtures.js';
import { assertServedExactly, scenario, shardRequests } from '../lib/scenario.js';

scenario('an expired manifest is refused and the previous version keeps serving', async (env) => {
  const v1 = env.fixture.files.get('weights.bin');
  const ready = await env.ensure();
  assert.ok(ready.ok, `ensureModel failed: ${JSON.stringify(ready.error)}`);

  env.fixture.changeRegion('weights.bin', 2 * SHARD_SIZE, 4096);
  await env.fixture.packExpired('1.1.0');
  const shardsBefore = shardRequests(env).length;
  const check = await env.checkUpdate();
  assert.equal(check.ok, false, `checkUpdate accepted an expired manifest: ${JSON.stringify(check.status)}`);
  assert.equal(check.error.code, 'manifest-expired', JSON.stringify(check.error));

  const info = await env.fetchModelFile('weights.bin');
  assertServedExactly(info, v1, 'weights.bin after the refused update');
  assert.equal(info.headers['x-tessera-version'], '1.0.0');
  assert.equal(shardRequests(env).length, shardsBefore, 'shards were downloaded for a refused manifest');
});
