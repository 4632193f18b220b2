// The first-visit race: an app that loads its model at once (as onnxruntime-web and
// transformers.js examples do) awaits `Tessera.ready` first, so the one download is the
// verified one; fetching a model file before the page is controlled is reported in the console.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { sha256Hex, uniqueShards } from '../lib/fixtures.js';
import { assertShardsFetchedOnce, Env, worldScenario } from '../lib/scenario.js';

/** The test world plus `blank.html`, a page of the app's origin that registers nothing itself. */
async function blankWorld() {
  const env = await Env.open({ goto: false });
  if (!env.pendingError) await writeFile(path.join(env.appDir, 'blank.html'), '<!doctype html><title>blank</title>');
  return env;
}

worldScenario(blankWorld, 'awaiting Tessera.ready: one verified download, and early fetches are warned about', async (env) => {
  await env.page.goto(`${env.origin}/blank.html`);
  const result = await env.page.evaluate(async (m) => {
    const { Tessera } = await import('/tessera-client.js');
    // What an impatient app does: fetch before control (the client warns), then the right way.
    const early = await fetch(`/models/${m}/config.json`).then((r) => r.status);
    Tessera.register('/sw.js');
    await Tessera.ready;
    const res = await fetch(`/models/${m}/weights.bin`);
    const body = await res.arrayBuffer();
    const sha = [...new Uint8Array(await crypto.subtle.digest('SHA-256', body))]
      .map((b) => b.toString(16).padStart(2, '0')).join('');
    return { early, status: res.status, sha, controlled: Boolean(navigator.serviceWorker.controller) };
  }, env.model);
  assert.equal(result.controlled, true);
  assert.equal(result.status, 200);
  const weights = env.fixture.files.get('weights.bin');
  assert.equal(result.sha, sha256Hex(weights));
  // Only weights.bin went through the worker (config.json was fetched before it took control).
  const manifest = await env.fixture.manifest('1.0.0');
  const weightShards = uniqueShards({ files: manifest.files.filter((f) => f.path === 'weights.bin') });
  assertShardsFetchedOnce(env, weightShards, 'one verified download');
  const early = env.proxy.requests(`/models/${env.model}/config.json`);
  assert.equal(early.length, 1, 'only the deliberate early fetch reached the network');
  const weightFetches = env.proxy.requests(`/models/${env.model}/weights.bin`);
  assert.equal(weightFetches.length, 0, 'weights.bin came unverified from the network');
  const warned = env.browser.logs.some((l) => l.includes('before the service worker controlled this page'));
  assert.ok(warned, 'no console warning about the early model fetch');
});
