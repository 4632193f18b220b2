// The runtime without a service worker fetches the model shard by shard and checks each one
// (WebCrypto's digest against the signed shard list, in core's file assembly) before any engine
// sees a byte: a shard flipped on the server fails the load with `shard-hash-mismatch`, which
// `local-only` reports and `prefer-local` answers from the edge for.

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { readManifest } from '../lib/fixtures.js';
import { assertAnswer, assertFailure, BROWSER_MODELS, mlpVectors, runtimeScenario } from '../lib/runtime.js';

runtimeScenario('runtime: a shard flipped on the server never reaches an engine (shard-hash-mismatch), and the edge answers', async (env) => {
  const vector = (await mlpVectors()).at(-1);
  const models = path.join(env.appDir, BROWSER_MODELS);
  const manifest = await readManifest(path.join(models, 'mlp', 'manifest.json'));
  const file = manifest.files.find((f) => f.path === manifest.runtime.entry);
  const shard = path.join(models, '_shards', file.shards.at(-1).sha256);
  const bytes = await readFile(shard);
  bytes[bytes.length >> 1] ^= 0x01;
  await writeFile(shard, bytes);

  await env.create('strict', { policy: 'local-only' });
  const failed = assertFailure(await env.run('strict', 'mlp', vector.inputs), 'shard-hash-mismatch', 'local-only', { failure: 'local-load-failed' });
  assert.match(failed.message, new RegExp(file.shards.at(-1).sha256), `the message names the shard: ${failed.message}`);

  await env.create('rt', { policy: 'prefer-local' });
  assertAnswer(await env.run('rt', 'mlp', vector.inputs), { source: 'edge', fallbackReason: 'local-load-failed', vector }, 'prefer-local');
});
