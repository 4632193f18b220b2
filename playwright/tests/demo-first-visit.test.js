// First visit to the Wayfarer demo with WebGPU: the recommender downloads (status line at 100 %,
// every shard in its details, "Ready"), "Find destinations" ranks destinations on this device, and the summarizer
// answers from the edge. Screenshots at desktop and phone widths for people to look at.

import assert from 'node:assert/strict';

import { demoScenario } from '../lib/demo.js';

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
  assert.equal(await env.text('rec-meta .source'), 'On-device', 'recommendations say they ran on this device');

  await env.summarize();
  assert.equal(await env.text('sum-error'), '', 'summarizer shows no error');
  assert.equal(await env.text('sum-meta .source'), 'Edge', 'summary says it ran on the edge');
  assert.ok((await env.page.locator('#sum-list li').count()) >= 1, 'the brief lists key sentences');

  await env.screenshot('demo-first-visit-desktop', 1280);
  await env.screenshot('demo-first-visit-phone', 390);
});
