// Recipe: transformers.js (@huggingface/transformers, pinned in package.json) running a
// `pipeline('text-classification', …)` on the tiny classifier of models/make_tiny_classifier.py
// (config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx packed as one tessera model)
// through tessera's drop-in worker (docs/recipes.md#transformersjs). The tokenizer's ids, the
// logits and the labels match the numpy known answers; no model byte comes from the network; with
// `env.useBrowserCache = false` Cache Storage holds no second copy (and, as a control, with the
// library's default `true` it does: `transformers-cache` fills with every model file); offline,
// after the worker was stopped, the pipeline loads and answers again.

import assert from 'node:assert/strict';

import { maxDiff, recipeScenario } from '../lib/recipes/world.js';

const TF_DIST = 'node_modules/@huggingface/transformers/dist';
/** onnxruntime-web as transformers.js 4.3.2 pins it (its own copy, nested under the package). */
const TF_ORT_DIST = 'node_modules/@huggingface/transformers/node_modules/onnxruntime-web/dist';
const TF_SHELL = ['/tf/transformers.min.js', '/tf/ort-wasm-simd-threaded.asyncify.mjs', '/tf/ort-wasm-simd-threaded.asyncify.wasm'];
const MODEL = 'tiny-clf';
const FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'];

function assertKnownAnswers(env, result, what) {
  assert.ok(result.ok, `${what}: ${JSON.stringify(result.error)}`);
  env.known.cases.forEach((c, i) => {
    const got = result.answers[i];
    assert.deepEqual(got.ids, c.input_ids, `${what}, "${c.text}": token ids`);
    const diff = maxDiff(got.logits, c.logits);
    assert.ok(diff <= env.known.tolerance, `${what}, "${c.text}": logits differ by ${diff}`);
    assert.equal(got.label, c.label, `${what}, "${c.text}": label`);
    assert.ok(Math.abs(got.score - c.score) <= env.known.tolerance, `${what}, "${c.text}": score ${got.score} vs ${c.score}`);
  });
}

recipeScenario(
  'recipe transformers.js: a text-classification pipeline from /models/ through the worker, library caches off, offline',
  async (env, t) => {
    const texts = env.known.cases.map((c) => c.text);
    const online = await env.call('classify', { model: MODEL, texts });
    assertKnownAnswers(env, online, 'online');
    t.diagnostic(`pipeline load (4 files through the worker, first use): ${online.loadMs.toFixed(1)} ms`);

    env.assertModelBytesOnlyThroughWorker();
    const resources = await env.call('resources');
    const modelReads = resources.map((r) => r.path).filter((p) => p.startsWith('/models/'));
    const modelUrls = [...new Set(modelReads)].sort();
    const counts = modelUrls.map((u) => `${u} ×${modelReads.filter((p) => p === u).length}`);
    t.diagnostic(`model URLs transformers.js fetched: ${counts.join(', ')}`);
    for (const f of FILES) assert.ok(modelUrls.includes(`/models/${MODEL}/${f}`), `transformers.js read ${f} from /models/`);
    const ort = [...new Set(resources.map((r) => r.path).filter((p) => p.startsWith('/tf/ort')))].sort();
    assert.deepEqual(ort, TF_SHELL.filter((p) => p.startsWith('/tf/ort')).sort(), 'onnxruntime files loaded = the recipe appShell');

    const without = await env.assertNoSecondCopy();
    t.diagnostic(`storage estimate with the library caches off: ${without.usage} B`);

    const before = env.proxy.log.length;
    await env.reloadOffline({ stopWorker: true });
    assertKnownAnswers(env, await env.call('classify', { model: MODEL, texts }), 'offline, fresh worker');
    assert.deepEqual(env.requestsSince(before).map((e) => `${e.method} ${e.path}`), [], 'nothing but the worker update check reached the network offline');
    await env.assertNoSecondCopy();

    // Control: transformers.js's default (useBrowserCache = true) keeps a second copy of every file.
    assertKnownAnswers(env, await env.call('classify', { model: MODEL, texts, browserCache: true }), 'library cache on');
    const withCache = await env.storage();
    const copies = (withCache.caches['transformers-cache'] ?? []).filter((e) => e.url.startsWith(`/models/${MODEL}/`));
    assert.deepEqual(copies.map((e) => e.url.slice(`/models/${MODEL}/`.length)).sort(), [...FILES].sort(), 'the library cache, when on, copies every model file');
    const copied = copies.reduce((sum, e) => sum + e.bytes, 0);
    t.diagnostic(`storage estimate with useBrowserCache = true: ${withCache.usage} B (transformers-cache holds ${copied} B of model files)`);
  },
  {
    page: 'transformers',
    models: [{ name: MODEL, entry: 'onnx/model.onnx', files: Object.fromEntries(FILES.map((f) => [f, f])) }],
    copy: [
      [`${TF_DIST}/transformers.min.js`, 'tf/transformers.min.js'],
      [`${TF_ORT_DIST}/ort-wasm-simd-threaded.asyncify.mjs`, 'tf/ort-wasm-simd-threaded.asyncify.mjs'],
      [`${TF_ORT_DIST}/ort-wasm-simd-threaded.asyncify.wasm`, 'tf/ort-wasm-simd-threaded.asyncify.wasm'],
    ],
    config: { appShell: ['/', '/index.html', '/app.js', '/tessera-client.js', ...TF_SHELL] },
    timeout: 45_000,
  },
);
