// The hostile-manifest table (core's one table, the same the service worker and the edge meet)
// against the browser runtime with no service worker: each manifest is refused by `load` with
// its case's code; where a valid version was accepted first (rollback, mix-and-match) a later
// runtime — a new worker, as after a reload — still knows it (the runtime keeps its last
// accepted manifest), loads that version and reports the refusal's code.

import assert from 'node:assert/strict';
import path from 'node:path';

import { CASES, hostileTable, publish } from '../lib/hostile.js';
import { BROWSER_MODELS, runtimeScenario } from '../lib/runtime.js';

runtimeScenario('the hostile-manifest table: the runtime without a service worker refuses each case with its code', async (env) => {
  const models = path.join(env.appDir, BROWSER_MODELS);
  const table = await hostileTable({
    key: path.join(env.dir, 'key', 'tessera.key'),
    from: path.join(models, 'mlp', 'manifest.json'),
    out: path.join(env.dir, 'hostile'),
  });
  assert.deepEqual(table.map((c) => c.case), CASES);
  for (const c of table) {
    const what = `${c.case} (${c.code})`;
    if (c.previous) {
      await publish(models, c.model, c.previous);
      await env.create(`${c.case}-first`);
      const first = await env.load(`${c.case}-first`, c.model, { timeoutMs: 60_000 });
      assert.ok(first.ok, `${what}: the valid previous manifest was refused: ${JSON.stringify(first)}`);
      assert.equal(first.value.refusedUpdate ?? null, null, `${what}: nothing refused yet`);
      await publish(models, c.model, c.offered);
      await env.create(`${c.case}-later`);
      const later = await env.load(`${c.case}-later`, c.model, { timeoutMs: 60_000 });
      assert.ok(later.ok, `${what}: the accepted version stopped loading: ${JSON.stringify(later)}`);
      assert.equal(later.value.version, first.value.version, `${what}: loaded version`);
      assert.equal(later.value.refusedUpdate?.code, c.code, `${what}: ${JSON.stringify(later.value.refusedUpdate)}`);
    } else {
      await publish(models, c.model, c.offered);
      await env.create(c.case);
      const loaded = await env.load(c.case, c.model);
      assert.equal(loaded.ok, false, `${what}: load accepted it`);
      assert.equal(loaded.code, c.code, `${what}: ${loaded.message}`);
    }
  }
}, { timeout: 180_000 });
