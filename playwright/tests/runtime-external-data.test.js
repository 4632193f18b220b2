// A graph whose weights live in an external data file (`model_external.onnx` +
// `model_external.onnx_data`, made by models/make_tiny_classifier.py) is refused by the runtime's
// loader with `model-external-data` — wonnx and tract take one self-contained graph — after only
// the graph was fetched: no shard of the data file is downloaded, and nothing runs without its
// weights. (onnxruntime-web loads the same model through the service worker:
// recipe-onnxruntime-web.test.js.)

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

import { readManifest, tesseraBin } from '../lib/fixtures.js';
import { makeTinyClassifier } from '../lib/recipes/world.js';
import { BROWSER_MODELS, runtimeScenario } from '../lib/runtime.js';

const run = promisify(execFile);

runtimeScenario('runtime: a graph with external data is refused with model-external-data, its data never fetched', async (env) => {
  const src = path.join(env.dir, 'tiny');
  await makeTinyClassifier(src);
  const out = path.join(env.appDir, BROWSER_MODELS);
  await run(tesseraBin(), [
    '--quiet', 'pack', '--key', path.join(env.dir, 'key', 'tessera.key'), '--name', 'clf-ext', '--version', '1.0.0',
    '--shard-size', '1KiB', '--entry', 'model_external.onnx', '--out', out,
    `model_external.onnx=${path.join(src, 'onnx', 'model_external.onnx')}`,
    `model_external.onnx_data=${path.join(src, 'onnx', 'model_external.onnx_data')}`,
  ]);
  const manifest = await readManifest(path.join(out, 'clf-ext', 'manifest.json'));
  const graph = new Set(manifest.files.find((f) => f.path === 'model_external.onnx').shards.map((s) => s.sha256));
  const data = manifest.files.find((f) => f.path === 'model_external.onnx_data').shards.map((s) => s.sha256).filter((s) => !graph.has(s));

  await env.create('rt', { policy: 'local-only' });
  const loaded = await env.load('rt', 'clf-ext');
  assert.equal(loaded.ok, false, `the load must be refused: ${JSON.stringify(loaded)}`);
  assert.equal(loaded.code, 'model-external-data', JSON.stringify(loaded));
  assert.match(loaded.message, /model_external\.onnx_data/, 'the error names the external file');
  const fetched = env.proxy.requests(`${BROWSER_MODELS}_shards/`).map((e) => e.path.split('/').pop());
  assert.ok(fetched.some((s) => graph.has(s)), 'the graph was fetched');
  assert.deepEqual(fetched.filter((s) => data.includes(s)), [], 'no shard of the external data file was fetched');
}, { webgpu: false });
