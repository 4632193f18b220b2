// Drives the runtime in headless Chromium: see run.sh. Prints one line per check and a JSON
// summary of timings; exits 1 if any check fails.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, keyFile, vectorsFile] = process.argv.slice(2);
const key = JSON.parse(readFileSync(keyFile, 'utf8'));
const vectors = JSON.parse(readFileSync(vectorsFile, 'utf8'));
let failed = 0;
let passed = 0;
const check = (name, ok, detail = '') => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
  if (ok) passed += 1;
  else failed += 1;
};

async function browser(webgpu) {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-rt-'));
  const args = ['--no-sandbox', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'];
  if (webgpu) args.push('--enable-unsafe-webgpu');
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args,
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.log(`  [console] ${m.text()}`); });
  page.on('pageerror', (e) => console.log(`  [pageerror] ${e}`));
  await page.goto(`${base}/index.html`);
  return { page, context, close: async () => { await context.close(); rmSync(dir, { recursive: true, force: true }); } };
}

// Runs in the page: every scenario, returning plain data.
async function scenarios({ key, vectors, edgeUrl, webgpu }) {
  const { TesseraRuntime } = await import('/tessera-runtime.js');
  const out = {};
  const attempt = async (f) => {
    try { return { ok: true, value: await f() }; } catch (e) {
      return { ok: false, code: e.code, failure: e.failure, reason: e.reason, message: String(e.message) };
    }
  };
  const input = (v) => Object.fromEntries(Object.entries(v.inputs).map(([k, t]) =>
    [k, { dtype: t.dtype, shape: t.shape, data: Float32Array.from(t.data) }]));
  const diff = (r, v) => Math.max(...Object.entries(v.outputs).flatMap(([k, t]) =>
    t.data.map((w, i) => Math.abs(r.outputs[k].data[i] - w))));
  const summary = (r, v) => (r.ok
    ? { source: r.value.source, fallbackReason: r.value.fallbackReason ?? null, diff: diff(r.value, v), timings: r.value.timings }
    : r);
  const v = vectors[vectors.length - 1];
  const options = { edgeUrl, trustedKeys: [key], controlled: false };

  const rt = await TesseraRuntime.create({ ...options, policy: 'local-only' });
  out.capabilities = await attempt(() => rt.capabilities());
  if (webgpu) {
    out.load = await attempt(() => rt.load('mlp'));
    out.local = summary(await attempt(() => rt.run('mlp', input(v))), v);
    out.localAgain = summary(await attempt(() => rt.run('mlp', input(v))), v);
    out.preferLocal = summary(await attempt(() => rt.run('mlp', input(v), { policy: 'prefer-local' })), v);
    out.selfTestWrong = await attempt(() => rt.run('mlp-wrong', input(v)));
    out.softmax = await attempt(() => rt.run('clf', { x: { dtype: 'float32', shape: [1, 4], data: new Float32Array(4) } }, { policy: 'prefer-local' }));
    out.clfStats = rt.stats('clf');
    out.race = summary(await attempt(() => rt.run('mlp', input(v), { policy: 'race' })), v);
    for (let i = 0; i < 4; i += 1) await attempt(() => rt.run('mlp', input(v), { policy: 'auto' }));
    out.auto = summary(await attempt(() => rt.run('mlp', input(v), { policy: 'auto' })), v);
    out.stats = rt.stats('mlp');
    out.badInput = await attempt(() => rt.run('mlp', { x: { dtype: 'float32', shape: [1, 3], data: new Float32Array(3) } }, { policy: 'prefer-local' }));
    const crashing = await TesseraRuntime.create({ ...options, policy: 'prefer-local', workerUrl: '/crash-worker.js' });
    out.crash = summary(await attempt(() => crashing.run('mlp', input(v))), v);
    out.crashStats = crashing.stats('mlp');
    out.afterCrash = summary(await attempt(() => crashing.run('mlp', input(v))), v);
  } else {
    out.local = await attempt(() => rt.run('mlp', input(v)));
    out.preferLocal = summary(await attempt(() => rt.run('mlp', input(v), { policy: 'prefer-local' })), v);
  }
  out.edge = summary(await attempt(() => rt.run('mlp', input(v), { policy: 'edge-only' })), v);
  out.unknownPolicy = await attempt(() => rt.run('mlp', input(v), { policy: 'fastest' }));
  return out;
}

const tol = vectors[vectors.length - 1].tolerance;
const results = {};
for (const webgpu of [true, false]) {
  const { page, context, close } = await browser(webgpu);
  const r = await page.evaluate(scenarios, { key, vectors, edgeUrl: base, webgpu });
  if (webgpu) {
    // Offline, a fresh worker still gets the manifest (kept in Cache Storage by the first load);
    // without a service worker the shards themselves are then out of reach.
    // Offline, a fresh worker loads the model again: the manifest (served `no-cache`, so the HTTP
    // cache cannot answer offline) from the runtime's Cache Storage copy, the immutable shards
    // from the HTTP cache. The runtime and its worker start online (offline, the app shell would
    // come from the service worker's cache, which this page has none of).
    await page.evaluate(async ({ key }) => {
      const { TesseraRuntime } = await import('/tessera-runtime.js');
      window.offlineRt = await TesseraRuntime.create({ trustedKeys: [key], controlled: false, policy: 'prefer-local' });
      await window.offlineRt.capabilities();
    }, { key });
    await context.setOffline(true);
    r.offline = await page.evaluate(async () => {
      try {
        const r = await window.offlineRt.run('mlp', { x: { dtype: 'float32', shape: [1, 16], data: new Float32Array(16) } });
        return { ok: true, source: r.source, online: navigator.onLine };
      } catch (e) {
        return { code: e.code, failure: e.failure, reason: e.reason, message: e.message };
      }
    });
    await context.setOffline(false);
  }
  await close();
  results[webgpu ? 'webgpu' : 'noWebgpu'] = r;
  const tag = webgpu ? '[webgpu]' : '[no-webgpu]';
  check(`${tag} edge-only answers from the edge`, r.edge.source === 'edge' && r.edge.diff <= tol, JSON.stringify(r.edge));
  check(`${tag} unknown policy is refused`, r.unknownPolicy.code === 'policy-unknown', r.unknownPolicy.code);
  if (webgpu) {
    check(`${tag} capabilities find an adapter`, r.capabilities.ok, JSON.stringify(r.capabilities.value ?? r.capabilities));
    check(`${tag} load verifies and self-tests the model`, r.load.ok && r.load.value.vectorsPassed === vectors.length, JSON.stringify(r.load));
    check(`${tag} local-only runs locally within tolerance`, r.local.source === 'local' && r.local.diff <= tol, JSON.stringify(r.local));
    check(`${tag} prefer-local runs locally`, r.preferLocal.source === 'local' && !r.preferLocal.fallbackReason, JSON.stringify(r.preferLocal));
    check(`${tag} wrong known answers refuse the session`, r.selfTestWrong.code === 'local-self-test-failed', JSON.stringify(r.selfTestWrong));
    check(`${tag} Softmax model falls back to the edge`, r.softmax.ok && r.softmax.value.source === 'edge' && r.softmax.value.fallbackReason === 'op-unsupported', JSON.stringify(r.softmax.ok ? { ...r.softmax.value, outputs: undefined } : r.softmax));
    check(`${tag} Softmax model is marked op-unsupported`, r.clfStats.health === 'op-unsupported', r.clfStats.health);
    check(`${tag} race answers within tolerance`, ['local', 'edge'].includes(r.race.source) && r.race.diff <= tol, JSON.stringify(r.race));
    check(`${tag} auto answers within tolerance`, ['local', 'edge'].includes(r.auto.source) && r.auto.diff <= tol, JSON.stringify(r.auto));
    check(`${tag} bad input is the caller's error, no fallback`, r.badInput.code === 'tensor-shape-mismatch' && !r.badInput.failure, JSON.stringify(r.badInput));
    check(`${tag} crashed worker falls back to the edge`, r.crash.source === 'edge' && r.crash.fallbackReason === 'worker-crashed', JSON.stringify(r.crash));
    check(`${tag} crashed worker marks local unhealthy`, r.crashStats.health === 'worker-crashed', r.crashStats.health);
    check(`${tag} offline: a fresh worker loads from caches and answers locally`, r.offline.ok && r.offline.source === 'local' && r.offline.online === false, JSON.stringify(r.offline));
    check(`${tag} after a crash requests go to the edge`, r.afterCrash.source === 'edge' && r.afterCrash.fallbackReason === 'worker-crashed', JSON.stringify(r.afterCrash));
  } else {
    check(`${tag} capabilities report no adapter`, r.capabilities.code === 'no-adapter' || r.capabilities.code === 'no-webgpu', JSON.stringify(r.capabilities));
    check(`${tag} local-only fails with the capability code`, ['no-adapter', 'no-webgpu'].includes(r.local.code), JSON.stringify(r.local));
    check(`${tag} prefer-local falls back to the edge`, r.preferLocal.source === 'edge' && ['no-adapter', 'no-webgpu'].includes(r.preferLocal.fallbackReason), JSON.stringify(r.preferLocal));
  }
}
console.log(JSON.stringify({ load: results.webgpu?.load?.value, stats: results.webgpu?.stats }, null, 1));
console.log(`runtime-smoke: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
