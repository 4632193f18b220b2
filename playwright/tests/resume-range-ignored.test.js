// A cut, then a server that ignores the Range header of the resume request and answers 200 with
// the whole shard: the worker must take the full body from byte 0 (never append it at the stored
// offset) and still end up with the exact file.

import assert from 'node:assert/strict';

import { assertServedExactly, fullWeightShards, rangeStart, scenario, shardOf, shardRequests } from '../lib/scenario.js';

scenario('a 200 answering a resume Range request restarts the shard and still verifies', async (env) => {
  const manifest = await env.fixture.manifest('1.0.0');
  const shards = fullWeightShards(manifest);
  // Cut inside the first Range request of a shard (each asks for one chunk); then every request
  // that resumes a shard (a Range not starting at 0) is answered 200 with the whole shard.
  env.proxy.addFault({ path: shards, cutAfter: 200_000, times: 1 });
  const ignore = env.proxy.addFault({ path: (e) => shards(e) && e.range !== null && rangeStart(e.range) > 0, ignoreRange: true });

  const result = await env.ensure();
  assert.ok(result.ok, `ensureModel failed: ${JSON.stringify(result.error)}`);
  assert.ok(ignore.hits >= 1, 'the worker never sent a Range request after the cut');

  const requests = shardRequests(env);
  const cut = requests.find((e) => e.cut);
  assert.ok(cut, 'no connection was cut');
  const resumed = requests.find((e) => e.rangeIgnored && shardOf(e) === shardOf(cut));
  assert.ok(resumed, 'no resume request for the cut shard');
  assert.equal(resumed.status, 200);
  assertServedExactly(await env.fetchModelFile('weights.bin'), env.fixture.files.get('weights.bin'), 'weights.bin');
});
