// Not enough storage: with the origin's quota shrunk below the model's size, ensureModel fails
// with `quota` and no model bytes are served; with the quota back, it succeeds.

import assert from 'node:assert/strict';

import { assertNoModelFileFetched, assertServedExactly, scenario, totalBytes } from '../lib/scenario.js';

scenario('a quota smaller than the model fails with quota, and succeeds once there is room', async (env) => {
  const total = totalBytes(await env.fixture.manifest('1.0.0'));
  const usage = await env.page.evaluate(async () => (await navigator.storage.estimate()).usage ?? 0);
  await env.browser.overrideQuota(env.origin, usage + 2 * 1024 * 1024);

  const result = await env.ensure(env.model, { timeoutMs: 15_000 });
  assert.equal(result.ok, false, `a ${total}-byte model fit into a 2 MiB quota`);
  assert.equal(result.error.code, 'quota', JSON.stringify(result.error));
  // The figures an app needs to explain it: what was missing, what was left, whether storage is
  // persisted, and that removing nothing else would have helped (nothing else is stored).
  // (`needed` is what was still missing when the disk was found full: the whole model when the
  // estimate says so up front, less the shards verified when a write was refused first — here,
  // as the worker's own `estimate()` does not see the CDP override, only the writes meet it.)
  const d = result.error.details;
  assert.ok(d?.needed > 0 && d.needed <= total, JSON.stringify(result.error));
  assert.ok(Number.isInteger(d.available) && d.available >= 0, JSON.stringify(d));
  assert.equal(typeof d.persisted, 'boolean');
  assert.equal(d.freeable, 0);

  const info = await env.fetchModelFile('weights.bin', { timeoutMs: 15_000 });
  assert.equal(info.fromServiceWorker, true);
  assert.ok(info.status >= 400, `answered ${info.status} without room for the model`);
  assert.equal(info.json?.error?.code, 'quota', `error body: ${JSON.stringify(info.json)}`);
  assertNoModelFileFetched(env);

  await env.browser.overrideQuota(env.origin, 1024 * 1024 * 1024);
  const retry = await env.ensure();
  assert.ok(retry.ok, `ensureModel with room again failed: ${JSON.stringify(retry.error)}`);
  assertServedExactly(await env.fetchModelFile('weights.bin'), env.fixture.files.get('weights.bin'), 'weights.bin');
});
