// First visit to the Wayfarer demo with WebGPU: the recommender downloads (status line at 100 %,
// every shard in its details, "Ready"), "Find destinations" ranks destinations on this device (the
// answer and the line under the status name the engine: GPU, or CPU and why), and the summarizer
// answers from the edge, stored here for when the edge can't be reached. Screenshots at desktop
// and phone widths for people to look at.

import assert from 'node:assert/strict';

import { demoScenario, ON_DEVICE } from '../lib/demo.js';

demoScenario('demo first visit: model ready, destinations on-device, summary from the edge', async (env) => {
  const shards = await env.shardCount('recommender');
  await env.load();
  await env.waitReady();

  assert.match(await env.text('dl-state'), /^Ready\b/, 'download card state');
  assert.equal(await env.text('dl-pct'), '100 %', 'download card percentage');
  await env.showModelDetails();
  assert.equal(await env.text('dl-shards'), `${shards} of ${shards} shards verified`, 'download card shard count');
  assert.equal(await env.page.locator('#dl-bar').evaluate((b) => b.value), 1, 'progress bar full');

  await env.recommend();
  assert.equal(await env.text('rec-error'), '', 'recommender shows no error');
  const ranked = await env.page.locator('#rec-list li.dest h3').allTextContents();
  assert.ok(ranked.length >= 3, `ranked destinations shown: ${JSON.stringify(ranked)}`);
  const source = await env.text('rec-meta .source');
  assert.match(source, ON_DEVICE, 'recommendations say they ran on this device');

  // The line under the status says where the recommender runs here, from the runtime's load
  // report: a real GPU, or the CPU and why (on SwiftShader, WebGPU's software adapter, the CPU
  // engine runs it); the engine it names is the one that answered. Neither is a warning.
  await env.page.locator('#device:not([data-engine=""])').waitFor({ timeout: 10_000 });
  const device = await env.text('device');
  const engine = await env.page.locator('#device').getAttribute('data-engine');
  assert.equal(await env.page.locator('#rec-meta .source').getAttribute('data-engine'), engine, 'the answer came from the engine the line names');
  assert.match(
    device,
    engine === 'wonnx-webgpu'
      ? /^The recommender runs on this device\u2019s GPU \(WebGPU\)(: it measured faster than the CPU for this model)?\.$/
      : /^The recommender runs on this device\u2019s CPU, because .+\.$/,
    `the device line (${engine}): ${device}`,
  );
  assert.equal(source, engine === 'wonnx-webgpu' ? 'This device \u00b7 GPU' : 'This device \u00b7 CPU', 'the badge names the engine');
  assert.equal(await env.page.locator('#device.device-warn').count(), 0, 'no warning');

  await env.summarize();
  assert.equal(await env.text('sum-error'), '', 'summarizer shows no error');
  assert.equal(await env.text('sum-meta .source'), 'Edge', 'summary says it ran on the edge');
  // "Prefer the edge": stored here too, for when the edge can't be reached.
  await env.page.locator('#sum-store[data-state="stored"]').waitFor({ timeout: 20_000 });
  assert.ok((await env.page.locator('#sum-list li').count()) >= 1, 'the brief lists key sentences');

  await env.screenshot('demo-first-visit-desktop', 1280);
  await env.screenshot('demo-first-visit-phone', 390);
});
