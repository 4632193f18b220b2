// The Wayfarer demo on a browser without WebGPU: the runtime's CPU engine runs the models here, so
// the page says the recommender runs on this device's CPU and why (no warning: it works), the
// recommender downloads as on any device, and destinations are ranked on this device, on the CPU,
// without asking the edge. The summarizer ("Prefer the edge") is stored for offline use too.
// Offline after a restart, both answer from this device, on the CPU. "Edge only" in the settings
// still sends the recommender to the edge.

import assert from 'node:assert/strict';

import { demoScenario } from '../lib/demo.js';

/** The device line once the recommender is loaded: the CPU, because there is no WebGPU (or adapter). */
const ON_CPU = /^The recommender runs on this device\u2019s CPU, because (this browser has no WebGPU|WebGPU finds no graphics adapter on this device)\.$/;

demoScenario(
  'demo without WebGPU: the model downloads and answers come from this device, on the CPU, also offline',
  async (env) => {
    const page = env.page;
    await env.load();
    await page.waitForFunction(() => !/^Checking/.test(document.getElementById('device').textContent), null, {
      timeout: 20_000,
    });
    const early = await env.text('device');
    assert.match(early, /^The recommender runs on this device\u2019s CPU, because /, `the device line says the CPU runs it: ${early}`);

    // The download decision: the CPU engine runs the model here, so it is downloaded.
    await env.waitReady();
    assert.match(await env.text('dl-state'), /^Ready\b/, 'the recommender is stored');
    assert.ok(env.proxy.requests('/models/_shards/').length > 0, 'the recommender\u2019s shards were downloaded');
    // Once the runtime has loaded it, the line says so from the load report.
    await page.locator('#device[data-engine="tract-wasm"]').waitFor({ timeout: 30_000 });
    const device = await env.text('device');
    assert.match(device, ON_CPU, `device line: ${device}`);
    assert.equal(await page.locator('#device.device-warn').count(), 0, 'running on the CPU is no warning');
    assert.equal(await page.locator('#device.device-ok').count(), 1, 'the device line says it works');

    await env.recommend();
    assert.equal(await env.text('rec-error'), '', 'recommender shows no error');
    const ranked = await page.locator('#rec-list li.dest h3').allTextContents();
    assert.ok(ranked.length >= 3, `ranked destinations shown: ${JSON.stringify(ranked)}`);
    assert.equal(await env.text('rec-meta .source'), 'This device \u00b7 CPU', 'the answer says it was computed on this device\u2019s CPU');
    assert.equal(await page.locator('#rec-meta .source').getAttribute('data-engine'), 'tract-wasm', 'the engine behind the badge');
    assert.equal(await env.text('rec-meta .reason'), '', 'no fallback: this device is where it should run');
    assert.deepEqual(env.proxy.requests('/v1/models/recommender/infer'), [], 'the edge was never asked for destinations');

    // The summarizer prefers the edge, and is stored here for when the edge can't be reached.
    await env.summarize();
    assert.equal(await env.text('sum-error'), '', 'summarizer shows no error');
    assert.equal(await env.text('sum-meta .source'), 'Edge', 'online, the summarizer prefers the edge');
    await page.locator('#sum-store[data-state="stored"]').waitFor({ timeout: 20_000 });

    // "Edge only" still sends the recommender to the edge.
    await env.choosePolicy('recommender', 'edge-only');
    assert.match(await env.text('device'), /^Your settings run the recommender on the edge only; it could run on this device\u2019s CPU, because /, 'the device line follows the policy');
    await env.recommend();
    assert.equal(await env.text('rec-error'), '', 'edge-only: no error');
    assert.equal(await env.text('rec-meta .source'), 'Edge', 'edge-only: the edge answers');
    await env.choosePolicy('recommender', 'prefer-local');

    // Offline, after a restart: both models answer from this device, on the CPU.
    await env.setOffline(true);
    await env.load({ reload: true });
    await env.setOffline(true);
    await page.waitForFunction(() => document.getElementById('net-text').textContent === 'Offline', null, { timeout: 5_000 });
    await env.waitReady();
    await page.locator('#rec-list').evaluate((list) => list.replaceChildren());
    await env.recommend();
    assert.equal(await env.text('rec-error'), '', 'offline: recommender shows no error');
    assert.ok((await page.locator('#rec-list li.dest').count()) >= 3, 'offline: ranked destinations shown');
    assert.equal(await env.text('rec-meta .source'), 'This device \u00b7 CPU', 'offline: destinations from this device\u2019s CPU');
    assert.match(await env.text('device'), ON_CPU, 'offline: the device line still says the CPU runs it');
    await env.summarize();
    assert.equal(await env.text('sum-error'), '', 'offline: summarizer shows no error');
    assert.equal(await env.text('sum-meta .source'), 'This device \u00b7 CPU', 'offline: the brief from this device\u2019s CPU');
    assert.equal(await env.text('sum-meta .reason'), 'because you\u2019re offline', 'offline: why this device answered');
    assert.ok((await page.locator('#sum-list li').count()) >= 1, 'offline: the brief lists key sentences');
    await env.screenshot('demo-no-webgpu-offline-desktop', 1280);
    await env.screenshot('demo-no-webgpu-offline-phone', 390);
  },
  { webgpu: false },
);

demoScenario(
  'demo on a browser that can run the model neither way: not downloaded, and the page says why',
  async (env) => {
    // No WebGPU (no flag) and, in the page, no WebAssembly SIMD: as an old browser would be.
    await env.page.addInitScript(() => {
      const validate = WebAssembly.validate.bind(WebAssembly);
      WebAssembly.validate = (bytes) => !new Uint8Array(bytes.buffer ?? bytes).includes(0xfd) && validate(bytes);
    });
    await env.load();
    const page = env.page;
    await page.locator('#dl-state.state-skipped').waitFor({ timeout: 20_000 });
    assert.equal(
      await env.text('dl-state'),
      'Not downloaded \u2014 this browser can\u2019t run the recommender, so it would never be used here',
      'the status line says why the model is not downloaded',
    );
    const device = await env.text('device');
    assert.match(
      device,
      /^This browser can\u2019t run the recommender itself: .*WebGPU.*, and it lacks WebAssembly SIMD for the CPU engine\. Answers come from the edge server, so the model isn\u2019t downloaded\.$/,
      `the device line says why: ${device}`,
    );
    assert.equal(await page.locator('#device.device-warn').count(), 1, 'that is a warning');
    await page.locator('#sum-store[data-state="cannot"]').waitFor({ timeout: 5_000 });
    assert.match(await env.text('sum-store'), /^Not stored: this browser can\u2019t run the summarizer itself/, 'the summarizer says it is not stored');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.deepEqual(env.proxy.requests('/models/_shards/').map((e) => e.path), [], 'no shard was downloaded');
  },
  { webgpu: false },
);
