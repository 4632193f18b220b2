// A graph whose weights live in an external data file (`edge/tests/fixtures/mlp_external.onnx` +
// `mlp_external.onnx_data`, made by make_mlp.py: every initializer external) loads in the page
// runtime without a service worker: the data file is fetched shard by shard and verified like the
// graph, inlined (tessera_onnx::external) and run on the CPU engine and on WebGPU (SwiftShader
// here), answering the MLP's known-answer vectors; a tokenizer packed beside the weights is not
// fetched. Signed manifests whose graph names a location that is not one of their files, or
// whose data file is shorter than the graph's offsets, are refused with the ONNX reader's code
// before any data shard is fetched, and nothing runs. (onnxruntime-web's `externalData` option
// loads a multi-file model through the service worker: recipe-onnxruntime-web.test.js.)

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

import { readManifest, REPO_ROOT, tesseraBin } from '../lib/fixtures.js';
import { assertAnswer, assertFailure, BROWSER_MODELS, mlpVectors, runtimeScenario } from '../lib/runtime.js';

const run = promisify(execFile);
const FIXTURES = path.join(REPO_ROOT, 'edge', 'tests', 'fixtures');

runtimeScenario('runtime: a graph with external data loads, answers on both engines, and hostile references are refused', async (env) => {
  const out = path.join(env.appDir, BROWSER_MODELS);
  const tokenizer = path.join(env.dir, 'tokenizer.json');
  await writeFile(tokenizer, JSON.stringify({ note: 'beside the weights, never fetched by the runtime', pad: 'x'.repeat(1500) }));
  const shortData = path.join(env.dir, 'short.onnx_data');
  await writeFile(shortData, (await readFile(path.join(FIXTURES, 'mlp_external.onnx_data'))).subarray(0, 3000));
  const pack = (name, files) => run(tesseraBin(), [
    '--quiet', 'pack', '--key', path.join(env.dir, 'key', 'tessera.key'), '--name', name, '--version', '1.0.0',
    '--shard-size', '1KiB', '--entry', 'onnx/model.onnx', '--out', out,
    '--test-vectors', path.join(FIXTURES, 'mlp.vectors.json'),
    `onnx/model.onnx=${path.join(FIXTURES, 'mlp_external.onnx')}`,
    ...Object.entries(files).map(([logical, source]) => `${logical}=${source}`),
  ]);
  const data = path.join(FIXTURES, 'mlp_external.onnx_data');
  await pack('mlp-ext', { 'onnx/mlp_external.onnx_data': data, 'tokenizer.json': tokenizer });
  // The graph's location resolves beside the graph (onnx/…): a file at the root is not it.
  await pack('mlp-ext-elsewhere', { 'mlp_external.onnx_data': data });
  // The data file is shorter than the last tensor's offset + length (3232 bytes).
  await pack('mlp-ext-short', { 'onnx/mlp_external.onnx_data': shortData });

  const shardsOf = async (model, file) => {
    const manifest = await readManifest(path.join(out, model, 'manifest.json'));
    return manifest.files.find((f) => f.path === file).shards.map((s) => s.sha256);
  };
  const fetchedShards = () => env.proxy.requests(`${BROWSER_MODELS}_shards/`).map((e) => e.path.split('/').pop());
  const dataShards = await shardsOf('mlp-ext', 'onnx/mlp_external.onnx_data');
  const tokenizerShards = await shardsOf('mlp-ext', 'tokenizer.json');
  const vectors = await mlpVectors();

  for (const [id, engine, expected] of [['cpu', 'cpu', 'tract-wasm'], ['webgpu', 'webgpu', 'wonnx-webgpu']]) {
    await env.create(id, { policy: 'local-only', engine });
    const loaded = await env.load(id, 'mlp-ext');
    assert.ok(loaded.ok, `${id}: ${JSON.stringify(loaded)}`);
    assert.equal(loaded.value.engine, expected, id);
    assert.equal(loaded.value.source, 'shards', id);
    assert.equal(loaded.value.vectorsPassed, vectors.length, `${id}: self-tested with every vector`);
    const graphBytes = (await readFile(path.join(FIXTURES, 'mlp_external.onnx'))).length;
    assert.equal(loaded.value.fileBytes, graphBytes + 3232, `${id}: the graph and its data file`);
    for (const v of vectors) {
      const answer = assertAnswer(await env.run(id, 'mlp-ext', v.inputs), { source: 'local', vector: v }, `${id} ${v.name}`);
      assert.equal(answer.engine, expected, id);
    }
  }
  const fetched = fetchedShards();
  for (const shard of dataShards) assert.ok(fetched.includes(shard), `data shard ${shard} was fetched`);
  assert.deepEqual(fetched.filter((s) => tokenizerShards.includes(s)), [], 'the tokenizer was not fetched');

  for (const [model, code, named] of [
    ['mlp-ext-elsewhere', 'onnx-external-missing', /mlp_external\.onnx_data/],
    ['mlp-ext-short', 'onnx-external-range', /3000 bytes/],
  ]) {
    const before = fetchedShards().length;
    const badData = (await shardsOf(model, model === 'mlp-ext-short' ? 'onnx/mlp_external.onnx_data' : 'mlp_external.onnx_data'))
      .filter((s) => !dataShards.includes(s));
    await env.create(model, { policy: 'local-only', engine: 'cpu' });
    const loaded = await env.load(model, model);
    assertFailure(loaded, code, model);
    assert.match(loaded.message, named, `${model}: the error names what is wrong`);
    const after = fetchedShards().slice(before);
    assert.deepEqual(after.filter((s) => dataShards.includes(s) || badData.includes(s)), [], `${model}: no data shard fetched`);
    const ran = await env.run(model, model, vectors[0].inputs);
    assert.equal(ran.ok, false, `${model}: nothing runs (${JSON.stringify(ran)})`);
  }
  assert.equal(env.edgeRequests('mlp-ext-elsewhere').length + env.edgeRequests('mlp-ext-short').length, 0, 'local-only: nothing went to the edge');
}, { webgpu: true });
