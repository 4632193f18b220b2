// The Wayfarer demo on a browser without WebGPU: the page says so, and "Find destinations" still
// answers, computed on the edge, with the fallback reason in words.

import assert from 'node:assert/strict';

import { demoScenario } from '../lib/demo.js';

demoScenario(
  'demo without WebGPU: destinations come from the edge and the page says WebGPU is unavailable',
  async (env) => {
    await env.load();
    await env.waitReady();
    await env.page.waitForFunction(() => !/^Checking/.test(document.getElementById('device').textContent), null, {
      timeout: 20_000,
    });
    const device = await env.text('device');
    assert.match(device, /WebGPU/i, `device line names WebGPU: ${device}`);
    assert.doesNotMatch(device, /^WebGPU available/, `device line must not claim WebGPU: ${device}`);
    assert.equal(await env.page.locator('#device.device-warn').count(), 1, 'device line is a warning');

    await env.recommend();
    assert.equal(await env.text('rec-error'), '', 'recommender shows no error');
    const ranked = await env.page.locator('#rec-list li.dest h3').allTextContents();
    assert.ok(ranked.length >= 3, `ranked destinations shown: ${JSON.stringify(ranked)}`);
    assert.equal(await env.text('rec-meta .source'), 'Edge', 'recommendations say they ran on the edge');
    const reason = await env.text('rec-meta .reason');
    assert.match(reason, /^because .*WebGPU/i, `the fallback reason names WebGPU: ${reason}`);
  },
  { webgpu: false },
);
