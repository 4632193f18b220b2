// The hostile-manifest table (core's one table, the same the edge and the runtime meet) against
// the service worker: each manifest is refused with its case's code, by `ensureModel` on a first
// visit and by `checkUpdate` after a valid version was accepted; a refused model's files answer
// the code too (JSON, 502), and where a version was accepted first it keeps serving.

import assert from 'node:assert/strict';
import path from 'node:path';

import { CASES, hostileTable, publish } from '../lib/hostile.js';
import { scenario } from '../lib/scenario.js';

scenario('the hostile-manifest table: the service worker refuses each case with its code', async (env) => {
  const table = await hostileTable({
    key: path.join(env.fixture.keys.trusted, 'tessera.key'),
    from: env.fixture.manifestPath,
    out: path.join(env.fixture.dir, 'hostile'),
  });
  assert.deepEqual(table.map((c) => c.case), CASES);
  for (const c of table) {
    const what = `${c.case} (${c.code})`;
    if (c.previous) {
      await publish(env.fixture.artifacts, c.model, c.previous);
      const first = await env.ensure(c.model);
      assert.ok(first.ok, `${what}: the valid previous manifest was refused: ${JSON.stringify(first.error)}`);
      const kept = first.status.version;
      await publish(env.fixture.artifacts, c.model, c.offered);
      const check = await env.checkUpdate(c.model);
      assert.equal(check.ok, false, `${what}: checkUpdate accepted it`);
      assert.equal(check.error.code, c.code, `${what}: ${check.error.message}`);
      const file = await env.fetch(`/models/${c.model}/config.json`);
      assert.equal(file.status, 200, `${what}: the accepted version stopped serving`);
      assert.equal(file.headers['x-tessera-version'], kept, `${what}: served version`);
    } else {
      await publish(env.fixture.artifacts, c.model, c.offered);
      const ensured = await env.ensure(c.model);
      assert.equal(ensured.ok, false, `${what}: ensureModel accepted it`);
      assert.equal(ensured.error.code, c.code, `${what}: ${ensured.error.message}`);
      for (const url of [`/models/${c.model}/config.json`, `/models/_accepted/${c.model}`]) {
        const answer = await env.fetch(url);
        assert.equal(answer.status, 502, `${what}: ${url} status`);
        assert.equal(answer.json?.error?.code, c.code, `${what}: ${url} code`);
      }
    }
  }
}, { timeout: 120_000 });
