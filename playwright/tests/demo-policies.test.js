// The "Where models run" panel of the Wayfarer demo drives the runtime's policies, and every
// answer says where it ran, why, and how long it took: `edge-only` answers from the edge,
// `local-only` on this device, `race` keeps the first answer (this device when the edge is
// slowed down), `auto` measures both sides, then follows the faster one. When the edge can't be
// reached (connections refused), the summarizer falls back to this device and says why, and with
// "Edge only" it says the edge can't be reached, in words. A local answer's badge names the
// engine ("This device · GPU" or "· CPU"). A user whose saved choice is "Edge only" gets nothing
// downloaded (the page says why); choosing a policy that runs a model here stores it.

import assert from 'node:assert/strict';

import { demoScenario, ON_DEVICE } from '../lib/demo.js';

/** How long the proxy holds the recommender's edge requests once the edge is "slow". */
const EDGE_DELAY_MS = 2000;
/** The answer's timings line: `<total> total · …` (ms below a second, s above). */
const TIMINGS = /^\d+(\.\d+)? m?s total\b/;

demoScenario('demo policies: each answer shows its source, reason and timings as the policy decides', async (env) => {
  await env.load();
  await env.waitReady();
  /** The recommender's answer as shown: source badge, reason line, timings line. */
  // "This device · GPU" or "· CPU" (whichever engine runs it here) read as "This device".
  const answer = async () => ({
    source: (await env.text('rec-meta .source')).replace(ON_DEVICE, 'This device'),
    reason: await env.text('rec-meta .reason'),
    timings: await env.text('rec-meta .timings'),
    error: await env.text('rec-error'),
  });
  const recommendWith = async (policy) => {
    await env.choosePolicy('recommender', policy);
    await env.recommend();
    const shown = await answer();
    assert.equal(shown.error, '', `${policy}: no error`);
    assert.match(shown.timings, TIMINGS, `${policy}: the answer shows its latency`);
    return shown;
  };

  let shown = await recommendWith('edge-only');
  assert.equal(await env.text('rec-where'), 'Only on the edge', 'edge-only: the card badge');
  assert.deepEqual([shown.source, shown.reason], ['Edge', ''], 'edge-only: answered by the edge');
  shown = await recommendWith('local-only');
  assert.equal(await env.text('rec-where'), 'Only on your device', 'local-only: the card badge');
  assert.deepEqual([shown.source, shown.reason], ['This device', ''], 'local-only: answered on this device');

  shown = await recommendWith('race');
  assert.equal(await env.text('rec-where'), 'Device and edge race', 'race: the card badge');
  assert.ok(['This device', 'Edge'].includes(shown.source), `race: one side answers: ${JSON.stringify(shown)}`);
  const slowEdge = env.proxy.addFault({ path: '/v1/models/recommender/infer', method: 'POST', delayMs: EDGE_DELAY_MS });
  shown = await recommendWith('race');
  assert.deepEqual([shown.source, shown.reason], ['This device', ''], 'race with a slow edge: this device wins');
  assert.ok(slowEdge.hits >= 1, 'race asked the edge too');
  await env.screenshot('demo-policy-race-desktop', 1280);
  await env.screenshot('demo-policy-race-phone', 390);

  // auto, on a fresh page (no latency measured yet), with the edge still slow: it measures this
  // device, then re-checks the edge (slow), then keeps to the faster side, this device.
  await env.choosePolicy('recommender', 'auto');
  await env.load({ reload: true });
  await env.waitReady();
  assert.equal(await env.page.locator('#policy-recommender').inputValue(), 'auto', 'the choice survives a reload');
  assert.equal(await env.text('rec-where'), 'Fastest side', 'auto: the card badge');
  const runs = [];
  for (let i = 0; i < 4; i += 1) {
    await env.recommend();
    runs.push(await answer());
  }
  assert.deepEqual(
    runs.map((r) => [r.source, r.reason]),
    [
      ['This device', ''],
      ['Edge', 'because re-checking the edge\u2019s speed'],
      ['This device', ''],
      ['This device', ''],
    ],
    `auto: measure both sides, then follow the faster one: ${JSON.stringify(runs)}`,
  );
  const probe = /^([\d.]+) (m?s) total/.exec(runs[1].timings);
  assert.ok(probe && Number(probe[1]) * (probe[2] === 's' ? 1000 : 1) >= EDGE_DELAY_MS, `auto: the slow edge's latency is shown: ${runs[1].timings}`);

  // The edge can't be reached: connections to the inference API are refused (a network error).
  env.proxy.addFault({ path: '/v1/', method: 'POST', refuse: true });
  await env.summarize();
  assert.equal(await env.text('sum-error'), '', 'prefer-edge summarizer: no error when the edge is unreachable');
  assert.match(await env.text('sum-meta .source'), ON_DEVICE, 'prefer-edge summarizer: this device answers instead');
  assert.equal(await env.text('sum-meta .reason'), 'because the edge server can\u2019t be reached', 'prefer-edge summarizer: the reason');
  await env.choosePolicy('summarizer', 'edge-only');
  await env.summarize();
  assert.equal(await env.text('sum-meta'), '', 'edge-only summarizer: no answer without the edge');
  assert.match(
    await env.text('sum-error'),
    /^The edge server can\u2019t be reached right now, and the summarizer runs there\. Check your connection/,
    'edge-only summarizer: says the edge cannot be reached, in words',
  );
  assert.equal(await env.page.locator('#sum-error').getAttribute('data-code'), 'edge-unreachable', 'edge-only summarizer: code');
});

demoScenario('demo policies and storage: "Edge only" downloads nothing; a policy that runs a model here stores it', async (env) => {
  const page = env.page;
  // A returning user who chose "Edge only" for both models (saved choices, before the first load).
  await page.addInitScript(() => {
    if (sessionStorage.getItem('seeded')) return;
    sessionStorage.setItem('seeded', '1');
    localStorage.setItem('wayfarer.policy.recommender', 'edge-only');
    localStorage.setItem('wayfarer.policy.summarizer', 'edge-only');
  });
  await env.load();
  await page.locator('#dl-state.state-skipped').waitFor({ timeout: 20_000 });
  assert.equal(
    await env.text('dl-state'),
    'Not downloaded \u2014 your settings run the recommender on the edge only; choose another option in Settings to keep it on this device',
    'the status line says why the recommender is not downloaded',
  );
  assert.match(await env.text('device'), /^Your settings run the recommender on the edge only; it could run on this device/, 'the device line follows the policy');
  await page.locator('#sum-store[data-state="edge-only"]').waitFor({ timeout: 5_000 });
  assert.equal(
    await env.text('sum-store'),
    'Not stored on this device: your settings run the summarizer on the edge only, so it needs a connection.',
    'the summarizer says it is not stored, and why',
  );
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.deepEqual(env.proxy.requests('/models/_shards/').map((e) => e.path), [], 'edge-only: no shard downloaded');
  await env.recommend();
  assert.equal(await env.text('rec-meta .source'), 'Edge', 'edge-only: the edge answers');

  // Choosing policies that run the models here stores them.
  await env.choosePolicy('summarizer', 'prefer-edge');
  await page.locator('#sum-store[data-state="stored"]').waitFor({ timeout: 20_000 });
  await env.choosePolicy('recommender', 'prefer-local');
  await env.waitReady();
  assert.match(await env.text('dl-state'), /^Ready\b/, 'prefer-local: the recommender is downloaded');
  await env.recommend();
  assert.match(await env.text('rec-meta .source'), ON_DEVICE, 'prefer-local: this device answers');
});
