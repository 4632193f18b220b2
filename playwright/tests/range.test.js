// Range requests from the page: the service worker answers 206 with the exact slice (across shard
// boundaries, suffix and open-ended ranges), 416 for unsatisfiable ranges and HEAD without a body,
// downloading the model on demand when the first request arrives before ensureModel.

import assert from 'node:assert/strict';

import { sha256Hex, SHARD_SIZE } from '../lib/fixtures.js';
import { assertNoModelFileFetched, scenario } from '../lib/scenario.js';

scenario('range requests get 206 with the exact slice, 416 past the end, and HEAD no body', async (env) => {
  const bytes = env.fixture.files.get('weights.bin');
  const size = bytes.length;

  // No ensureModel first: the request itself makes the worker fetch and verify the model.
  const cases = [
    { range: `bytes=${SHARD_SIZE - 1000}-${SHARD_SIZE + 999}`, start: SHARD_SIZE - 1000, end: SHARD_SIZE + 999 },
    { range: 'bytes=0-0', start: 0, end: 0 },
    { range: 'bytes=-500', start: size - 500, end: size - 1 },
    { range: `bytes=${size - 10_000}-`, start: size - 10_000, end: size - 1 },
    { range: `bytes=${size - 10}-${size + 1000}`, start: size - 10, end: size - 1 },
  ];
  for (const c of cases) {
    const info = await env.fetchModelFile('weights.bin', { range: c.range });
    const what = `Range ${c.range}`;
    assert.equal(info.status, 206, `${what}: status ${info.status} ${JSON.stringify(info.json)}`);
    assert.equal(info.fromServiceWorker, true, `${what}: not from the service worker`);
    assert.equal(info.headers['content-range'], `bytes ${c.start}-${c.end}/${size}`, what);
    assert.equal(info.headers['content-length'], String(c.end - c.start + 1), what);
    assert.equal(info.length, c.end - c.start + 1, what);
    assert.equal(info.sha256, sha256Hex(bytes.subarray(c.start, c.end + 1)), `${what}: wrong bytes`);
  }

  for (const range of [`bytes=${size}-`, `bytes=${size + 5}-${size + 10}`]) {
    const info = await env.fetchModelFile('weights.bin', { range });
    assert.equal(info.status, 416, `Range ${range}: status ${info.status}`);
    assert.equal(info.headers['content-range'], `bytes */${size}`, `Range ${range}`);
    assert.equal(info.fromServiceWorker, true);
  }

  const head = await env.fetchModelFile('weights.bin', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.length, 0);
  assert.equal(head.headers['content-length'], String(size));
  assert.equal(head.headers['accept-ranges'], 'bytes');
  assert.equal(head.fromServiceWorker, true);

  assertNoModelFileFetched(env);
});
