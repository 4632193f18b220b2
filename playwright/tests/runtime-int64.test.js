// Tensors stay typed end to end: an int64 model (`y = x + c`, c = [2^60 + 1, -2^60 - 3],
// edge/tests/fixtures/add_int64.onnx) on the CPU engine answers the page a BigInt64Array whose
// values above 2^53 are exact — no double in between (the engine seam once widened outputs to
// f64, which rounds both of these).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

import { REPO_ROOT, tesseraBin } from '../lib/fixtures.js';
import { BROWSER_MODELS, runtimeScenario } from '../lib/runtime.js';

const run = promisify(execFile);
const MODEL = path.join(REPO_ROOT, 'edge', 'tests', 'fixtures', 'add_int64.onnx');

runtimeScenario('runtime: an int64 output beyond 2^53 reaches the page exact, as a BigInt64Array (CPU engine)', async (env) => {
  // A known answer JSON can state (x = 0 gives c, which JSON numbers round alike on both sides).
  const vectors = path.join(env.dir, 'add_int64.vectors.json');
  await writeFile(vectors, JSON.stringify([{
    name: 'zero',
    inputs: { x: { dtype: 'int64', shape: [1, 2], data: [0, 0] } },
    outputs: { y: { dtype: 'int64', shape: [1, 2], data: [2 ** 60 + 1, -(2 ** 60) - 3] } },
    tolerance: 0.5,
  }]));
  await run(tesseraBin(), [
    '--quiet', 'pack', '--key', path.join(env.dir, 'key', 'tessera.key'), '--name', 'add-int64', '--version', '1.0.0',
    '--test-vectors', vectors, '--out', path.join(env.appDir, BROWSER_MODELS), `model.onnx=${MODEL}`,
  ]);
  await env.create('rt', { policy: 'local-only', engine: 'cpu' });
  const loaded = await env.load('rt', 'add-int64');
  assert.ok(loaded.ok, JSON.stringify(loaded));
  assert.equal(loaded.value.engine, 'tract-wasm');

  const ran = await env.run('rt', 'add-int64', { x: { dtype: 'int64', shape: [1, 2], data: [String(2n ** 60n), '5'] } });
  assert.ok(ran.ok, JSON.stringify(ran));
  assert.equal(ran.value.source, 'local');
  const y = ran.value.outputs.y;
  assert.equal(y.array, 'BigInt64Array', 'int64 answers as a BigInt64Array');
  assert.deepEqual(y.shape, [1, 2]);
  // 2^61 + 1 and -2^60 + 2: odd, above 2^53 — a double holds neither.
  assert.deepEqual(y.exact, [String(2n ** 61n + 1n), String(-(2n ** 60n) + 2n)]);
});
