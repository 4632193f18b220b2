// A model whose known answers the browser does not reproduce (`mlp-wrong`: the browser's copy
// expects every output +1.0) is never used locally: `prefer-local` answers from the edge with
// `local-self-test-failed`, and `local-only` fails with that code.

import assert from 'node:assert/strict';

import { assertAnswer, assertFailure, mlpVectors, runtimeScenario } from '../lib/runtime.js';

runtimeScenario('runtime: a model failing its self-test in the browser answers from the edge', async (env) => {
  const vector = (await mlpVectors()).at(-1);
  await env.create('rt', { policy: 'prefer-local' });
  assertAnswer(
    await env.run('rt', 'mlp-wrong', vector.inputs),
    { source: 'edge', fallbackReason: 'local-self-test-failed', vector },
    'prefer-local',
  );
  assert.equal((await env.stats('rt', 'mlp-wrong')).health, 'local-self-test-failed');
  assertAnswer(
    await env.run('rt', 'mlp-wrong', vector.inputs),
    { source: 'edge', fallbackReason: 'local-self-test-failed', vector },
    'prefer-local again: the failure lasts for the page',
  );

  await env.create('strict', { policy: 'local-only' });
  const failed = assertFailure(await env.run('strict', 'mlp-wrong', vector.inputs), 'local-self-test-failed', 'local-only', {
    failure: 'local-self-test-failed',
  });
  assert.match(failed.message, /self-test vector "zeros"/, 'the message names the vector that failed');
  assertAnswer(await env.run('strict', 'mlp', vector.inputs), { source: 'local', vector }, 'the right model still runs locally');
});
