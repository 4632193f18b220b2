// The resume bound, held: a connection cut at a random offset, on an unthrottled loopback, costs
// at most one chunk (`chunkSize`) of bytes fetched twice. Chromium drops body bytes it received
// but had not handed to the reader when a connection fails (measured: up to the whole body, even
// with the worker reading without pause), so the worker asks for at most one chunk per Range
// request: a cut falls inside one request and loses at most its bytes. A cut that loses more than
// one chunk fails. Several runs, each from an empty store; TESSERA_CUT_SEED replays one.

import assert from 'node:assert/strict';

import { CHUNK_SIZE, fullWeightShards, scenario, totalBytes } from '../lib/scenario.js';

const RUNS = Number(process.env.TESSERA_CUT_RUNS || 8);

/** A small deterministic generator (mulberry32), so a failing offset can be replayed. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

scenario(`cuts at random offsets, unthrottled, never re-fetch more than one chunk (${RUNS} runs)`, async (env) => {
  const manifest = await env.fixture.manifest('1.0.0');
  const total = totalBytes(manifest);
  const seed = Number(process.env.TESSERA_CUT_SEED || Date.now() % 100_000);
  const next = random(seed);
  const lost = [];
  for (let run = 0; run < RUNS; run += 1) {
    // A request carries at most one chunk: the cut falls inside the first request it hits.
    const cutAt = 1 + Math.floor(next() * (CHUNK_SIZE - 2));
    const seen = env.proxy.log.length;
    const before = env.proxy.bytesSent('/models/_shards/');
    const fault = env.proxy.addFault({ path: fullWeightShards(manifest), cutAfter: cutAt, times: 1 });
    const result = await env.ensure();
    assert.ok(result.ok, `run ${run} (seed ${seed}, cut at ${cutAt}): ${JSON.stringify(result.error)}`);
    assert.equal(fault.hits, 1, `run ${run}: the fault was not applied`);
    assert.ok(env.proxy.log.slice(seen).some((e) => e.cut), `run ${run}: no connection was cut`);
    const refetched = env.proxy.bytesSent('/models/_shards/') - before - total;
    lost.push({ cutAt, refetched });
    if (!process.env.TESSERA_CUT_SURVEY) assert.ok(
      refetched <= CHUNK_SIZE,
      `run ${run} (seed ${seed}): a cut at ${cutAt} re-fetched ${refetched} bytes, more than one chunk (${CHUNK_SIZE}); all runs: ${JSON.stringify(lost)}`,
    );
    const removed = await env.page.evaluate((m) => window.harness.remove(m), env.model);
    assert.ok(removed.ok, `remove failed: ${JSON.stringify(removed.error)}`);
  }
  console.log(`resume-cut-random (seed ${seed}): ${JSON.stringify(lost)}`);
}, { timeout: 120_000 });
