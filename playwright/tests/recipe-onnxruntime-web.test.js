// Recipe: onnxruntime-web (the repo's pinned npm package) loading models by plain URL through
// tessera's drop-in worker (docs/recipes.md#onnxruntime-web). A graph with its weights inline and
// one with external data (`externalData`, the `.onnx_data` file packed beside the graph) give the
// known answers of models/make_tiny_classifier.py; no model byte comes from the network; the
// .mjs/.wasm files onnxruntime-web loads lazily are exactly the appShell list the recipe gives;
// Cache Storage holds no second copy; offline, after the worker was stopped, both load again.

import assert from 'node:assert/strict';

import { maxDiff, recipeScenario } from '../lib/recipes/world.js';

/** onnxruntime-web's wasm build: the module the page imports, then what it loads lazily. */
const ORT_DIST = 'node_modules/onnxruntime-web/dist';
const ORT_SHELL = ['/ort/ort.wasm.min.mjs', '/ort/ort-wasm-simd-threaded.mjs', '/ort/ort-wasm-simd-threaded.wasm'];

const MODEL = { url: '/models/tiny-clf/onnx/model.onnx' };
const EXTERNAL = {
  url: '/models/tiny-clf-ext/model_external.onnx',
  externalData: [{ path: 'model_external.onnx_data', data: '/models/tiny-clf-ext/model_external.onnx_data' }],
};

function assertKnownAnswers(env, result, what) {
  assert.ok(result.ok, `${what}: ${JSON.stringify(result.error)}`);
  env.known.cases.forEach((c, i) => {
    const diff = maxDiff(result.logits[i], c.logits);
    assert.ok(diff <= env.known.tolerance, `${what}, "${c.text}": logits differ by ${diff}`);
  });
}

recipeScenario(
  'recipe onnxruntime-web: plain URLs and external data through the worker, appShell for an offline start, no second copy',
  async (env, t) => {
    const cases = env.known.cases.map((c) => c.input_ids);

    // A small file first, on a fresh worker: the manifest is fetched and verified, then the file's
    // shards; the second read comes from the verified store.
    const configFirst = await env.call('timeFetch', '/models/tiny-clf/config.json');
    const configAgain = await env.call('timeFetch', '/models/tiny-clf/config.json');
    assert.equal(configFirst.status, 200);
    assert.equal(configFirst.version, '1.0.0', 'config.json answered by tessera');
    t.diagnostic(`config.json first answer (manifest + shards + verify) ${configFirst.ms.toFixed(1)} ms, stored ${configAgain.ms.toFixed(1)} ms`);

    const first = await env.call('run', { ...MODEL, cases });
    assertKnownAnswers(env, first, 'model.onnx online');
    const external = await env.call('run', { ...EXTERNAL, cases });
    assertKnownAnswers(env, external, 'model_external.onnx + externalData online');

    t.diagnostic(`session create (fetch through the worker + compile): ${first.createMs.toFixed(1)} ms, with external data ${external.createMs.toFixed(1)} ms`);

    env.assertModelBytesOnlyThroughWorker();
    const loaded = [...new Set((await env.call('resources')).map((r) => r.path).filter((p) => p.startsWith('/ort/')))].sort();
    assert.deepEqual(loaded, [...ORT_SHELL].sort(), 'onnxruntime-web loaded exactly the files the recipe lists in appShell');
    const storage = await env.assertNoSecondCopy();
    t.diagnostic(`storage estimate ${storage.usage} B; tessera-v1 cache: ${storage.caches['tessera-v1'].map((e) => `${e.url} ${e.bytes}`).join(', ')}`);

    const before = env.proxy.log.length;
    await env.reloadOffline({ stopWorker: true });
    assertKnownAnswers(env, await env.call('run', { ...MODEL, cases }), 'model.onnx offline, fresh worker');
    assertKnownAnswers(env, await env.call('run', { ...EXTERNAL, cases }), 'external data offline, fresh worker');
    assert.deepEqual(
      env.requestsSince(before).map((e) => `${e.method} ${e.path}`),
      [],
      'nothing but the worker update check reached the network offline',
    );
  },
  {
    page: 'onnxruntime-web',
    models: [
      { name: 'tiny-clf', entry: 'onnx/model.onnx', files: { 'onnx/model.onnx': 'onnx/model.onnx', 'config.json': 'config.json' } },
      {
        name: 'tiny-clf-ext',
        entry: 'model_external.onnx',
        files: { 'model_external.onnx': 'onnx/model_external.onnx', 'model_external.onnx_data': 'onnx/model_external.onnx_data' },
      },
    ],
    copy: ORT_SHELL.map((p) => [`${ORT_DIST}/${p.slice('/ort/'.length)}`, p.slice(1)]),
    config: { appShell: ['/', '/index.html', '/app.js', '/tessera-client.js', ...ORT_SHELL] },
    timeout: 45_000,
  },
);
