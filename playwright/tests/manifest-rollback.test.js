// Rollback: after the worker accepted 1.1.0, the server publishes the older, validly signed
// 1.0.0 manifest again. The worker refuses it with `manifest-rollback` and keeps serving 1.1.0.

import assert from 'node:assert/strict';

import { SHARD_SIZE } from '../lib/fixtures.js';
import { assertServedExactly, scenario, shardRequests } from '../lib/scenario.js';

scenario('a rolled-back manifest is refused and the accepted version keeps serving', async (env) => {
  env.fixture.changeRegion('weights.bin', 4 * SHARD_SIZE + 10, 1000);
  await env.fixture.pack('1.1.0');
  const v11 = env.fixture.versions.get('1.1.0').get('weights.bin');
  const ready = await env.ensure();
  assert.ok(ready.ok, `ensureModel failed: ${JSON.stringify(ready.error)}`);
  assert.equal(ready.status.version, '1.1.0');

  await env.fixture.rollbackTo('1.0.0');
  const shardsBefore = shardRequests(env).length;
  const check = await env.checkUpdate();
  assert.equal(check.ok, false, `checkUpdate accepted a rollback: ${JSON.stringify(check.status)}`);
  assert.equal(check.error.code, 'manifest-rollback', JSON.stringify(check.error));

  const info = await env.fetchModelFile('weights.bin');
  assertServedExactly(info, v11, 'weights.bin after the refused rollback');
  assert.equal(info.headers['x-tessera-version'], '1.1.0');
  const status = await env.status();
  assert.equal(status.status?.version, '1.1.0');
  assert.equal(shardRequests(env).length, shardsBefore, 'shards were downloaded for a refused manifest');
});
