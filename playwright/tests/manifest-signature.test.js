// Manifests the configured key did not sign: one signed by another key (`manifest-unknown-key`)
// and one whose signature was tampered with (`manifest-signature-invalid`). Both are refused,
// nothing is downloaded for them, and the accepted version keeps serving.

import assert from 'node:assert/strict';

import { SHARD_SIZE } from '../lib/fixtures.js';
import { assertServedExactly, scenario, shardRequests } from '../lib/scenario.js';

scenario('untrusted and tampered signatures are refused and the previous version keeps serving', async (env) => {
  const v1 = env.fixture.files.get('weights.bin');
  const ready = await env.ensure();
  assert.ok(ready.ok, `ensureModel failed: ${JSON.stringify(ready.error)}`);
  const shardsBefore = shardRequests(env).length;

  env.fixture.changeRegion('weights.bin', 5 * SHARD_SIZE, 4096);
  await env.fixture.pack('1.1.0', { key: 'untrusted' });
  const unknown = await env.checkUpdate();
  assert.equal(unknown.ok, false, `accepted a manifest signed by an untrusted key: ${JSON.stringify(unknown.status)}`);
  assert.equal(unknown.error.code, 'manifest-unknown-key', JSON.stringify(unknown.error));

  await env.fixture.pack('1.2.0');
  await env.fixture.tamperSignature();
  const tampered = await env.checkUpdate();
  assert.equal(tampered.ok, false, `accepted a tampered signature: ${JSON.stringify(tampered.status)}`);
  assert.equal(tampered.error.code, 'manifest-signature-invalid', JSON.stringify(tampered.error));

  const info = await env.fetchModelFile('weights.bin');
  assertServedExactly(info, v1, 'weights.bin after the refused manifests');
  assert.equal(info.headers['x-tessera-version'], '1.0.0');
  assert.equal(shardRequests(env).length, shardsBefore, 'shards were downloaded for a refused manifest');
});
