// One byte flipped in transit, once: the worker discards that shard's bytes, downloads it again
// and serves the exact file; nothing of the corrupted download is ever served.

import assert from 'node:assert/strict';

import { assertServedExactly, fullWeightShards, scenario, shardOf, shardRequests } from '../lib/scenario.js';

scenario('a byte flipped in transit is caught and the shard downloaded again', async (env) => {
  const manifest = await env.fixture.manifest('1.0.0');
  const fault = env.proxy.addFault({ path: fullWeightShards(manifest), flipByteAt: 77_777, times: 1 });

  const result = await env.ensure();
  assert.ok(result.ok, `ensureModel failed after one corrupted transfer: ${JSON.stringify(result.error)}`);
  assert.equal(fault.hits, 1);
  const requests = shardRequests(env);
  const flipped = requests.find((e) => e.flipped);
  assert.ok(flipped, 'no byte was flipped (response shorter than expected?)');
  const again = requests.filter((e) => shardOf(e) === shardOf(flipped) && e.id > flipped.id);
  assert.ok(again.length >= 1, 'the corrupted shard was not downloaded again');
  assertServedExactly(await env.fetchModelFile('weights.bin'), env.fixture.files.get('weights.bin'), 'weights.bin');
});
