// The browser stops the service worker in the middle of a download (as it does to idle or
// misbehaving workers). The page's pending `ensureModel` never hangs: the client notices the
// restart (a new worker instance answers its heartbeat) and asks again, so the download goes on
// from the stored offsets and the promise settles. And the worker resumes an unfinished install
// by itself whenever it starts, with no page asking.

import assert from 'node:assert/strict';

import {
  CHUNK_SIZE,
  assertServedExactly,
  scenario,
  shardRequests,
  stopMidDownload,
  totalBytes,
  until,
} from '../lib/scenario.js';

/** At most one chunk re-fetched per interrupted shard. */
function assertResumedExactly(env, manifest, interrupted) {
  const refetched = env.proxy.bytesSent('/models/_shards/') - totalBytes(manifest);
  assert.ok(
    refetched <= interrupted.size * CHUNK_SIZE,
    `re-fetched ${refetched} bytes for ${interrupted.size} interrupted shards (at most one chunk each)`,
  );
}

scenario('a pending ensureModel settles after the browser restarts the worker, progress keeps flowing', async (env) => {
  const { manifest, interrupted } = await stopMidDownload(env);
  const progressAtStop = await env.page.evaluate((m) => window.harness.background[m].progress.length, env.model);

  // No new call from the page: the pending one must finish by itself.
  const result = await until(
    () => env.page.evaluate((m) => window.harness.background[m].result, env.model),
    { timeoutMs: 30_000, what: 'the pending ensureModel to settle' },
  );
  assert.ok(result.ok, `the pending ensureModel failed: ${JSON.stringify(result.error)}`);
  assert.equal(result.status.state, 'ready');
  assert.equal(result.status.bytesDone, totalBytes(manifest));
  const progress = await env.page.evaluate((m) => window.harness.background[m].progress, env.model);
  assert.ok(progress.length > progressAtStop, 'no progress reached the page after the restart');
  assertResumedExactly(env, manifest, interrupted);
  assertServedExactly(await env.fetchModelFile('weights.bin'), env.fixture.files.get('weights.bin'), 'weights.bin');
});

scenario('a restarted worker finishes an unfinished install with no page asking', async (env) => {
  const { manifest, before, interrupted } = await stopMidDownload(env);
  // The page that asked is gone; a reload (a navigation) starts the worker again.
  await env.load({ reload: true });
  await until(() => shardRequests(env).length > before.length, {
    timeoutMs: 10_000,
    what: 'shard requests after the restart, with no ensureModel',
  });
  const status = await until(async () => {
    const s = (await env.status()).status;
    return s?.state === 'ready' ? s : null;
  }, { timeoutMs: 30_000, what: 'the model ready without an ensureModel' });
  assert.equal(status.bytesDone, totalBytes(manifest));
  assertResumedExactly(env, manifest, interrupted);
  assertServedExactly(await env.fetchModelFile('weights.bin'), env.fixture.files.get('weights.bin'), 'weights.bin');
});
