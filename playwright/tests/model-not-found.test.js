// A model the server does not publish: ensureModel and a file request both report
// `model-not-found` (the manifest answered 404) instead of hanging or passing bytes through.

import assert from 'node:assert/strict';

import { scenario } from '../lib/scenario.js';

scenario('a model the server does not have reports model-not-found', async (env) => {
  const result = await env.ensure('nosuch');
  assert.equal(result.ok, false, 'ensureModel of an unpublished model succeeded');
  assert.equal(result.error.code, 'model-not-found', JSON.stringify(result.error));

  const info = await env.fetch('/models/nosuch/weights.bin');
  assert.equal(info.fromServiceWorker, true);
  assert.equal(info.status, 404);
  assert.equal(info.json?.error?.code, 'model-not-found', `error body: ${JSON.stringify(info.json)}`);
  const asked = env.proxy.requests('/models/nosuch/').map((e) => e.path);
  assert.ok(asked.length >= 1, 'the manifest was never asked for');
  assert.deepEqual(
    asked.filter((p) => p !== '/models/nosuch/manifest.json'),
    [],
    'only the manifest may be asked for',
  );
});
