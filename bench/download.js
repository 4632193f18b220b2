// Items 2, 3 and 4: getting the model onto the machine.
//   2. cold download + verification: tessera's `ensureModel` (signed manifest, 4 parallel Range
//      downloads into OPFS files, WebCrypto sha256 of every shard) vs a plain `fetch`
//      of the same shards, 4 in parallel, no verification, no storage, and vs the same fetch
//      storing each shard in an OPFS file from the service worker (the storage ceiling); with
//      1 MiB and 4 MiB shards. Straight to a release `tessera serve`, no proxy. MB/s from
//      performance.now() in the page (the worker's for the OPFS rows); live SW memory sampled
//      in an extra untimed round.
//   3. interrupted download: every connection cut once 50% of the bytes went out; bytes sent in
//      total until the model is complete — tessera (resumes stored shards and chunks) vs a
//      whole-file fetch that starts again from byte 0 (what Transformers.js and WebLLM do).
//   4. update with one shard changed: bytes tessera downloads for the new version vs the whole
//      model a file-level cache downloads again.
// Bytes in 3 and 4 are counted by the counting proxy (playwright/lib/server.js) in front of the
// server: body bytes written to the browser's sockets.

import { launchBrowser } from '../playwright/lib/browser.js';
import { SHARD_SIZE, shardsOf, uniqueShardBytes } from '../playwright/lib/fixtures.js';
import { Env, settle } from '../playwright/lib/scenario.js';
import { startProxy } from '../playwright/lib/server.js';
import { sampleLiveMemory } from './lib/memory.js';
import { countPieceFiles, downloadAll, storeAllInOpfs, timedEnsure } from './lib/page.js';
import { fmtBytes, fmtMedian, fmtNum, fmtRatio, fmtSpread, mbps, median, MiB, repeat, repsFor, summary } from './lib/stats.js';
import { BENCH_BROWSER_ARGS } from './lib/world.js';

/** @param {import('./run.js').BenchContext} ctx */
export async function run(ctx) {
  const want = (n) => !ctx.only || ctx.only.has(n);
  const items = [];
  if (want(2)) items.push(await coldDownload(ctx));
  if (want(3) || want(4)) items.push(...(await resumeAndUpdate(ctx)));
  return items;
}

/** Opens an Env for a `size`-byte fixture; `direct` talks to `tessera serve` without the proxy. */
async function openEnv(name, size, { direct, config = {} }) {
  const env = await Env.open({ fixture: { name, weightsSize: size }, config, goto: false });
  if (env.pendingError) {
    await env.close();
    throw env.pendingError;
  }
  try {
    if (direct) env.origin = env.server.url;
    await env.load();
    return env;
  } catch (err) {
    await env.close();
    throw err;
  }
}

/** Parallel downloads of item 2 (tessera's `concurrency` and the plain fetches alike). */
const COLD_PARALLEL = Number(process.env.TESSERA_BENCH_DL_CONCURRENCY || 4);
/** tessera's `chunkSize` in item 2 (the demo's 1 MiB unless `TESSERA_BENCH_DL_CHUNK` says otherwise). */
const COLD_CHUNK = Number(process.env.TESSERA_BENCH_DL_CHUNK || MiB);
/** `tessera pack`'s default shard size: item 2 also runs the same bytes packed with it. */
const DEFAULT_SHARD = 4 * MiB;

async function coldDownload(ctx) {
  const size = ctx.smoke ? 4 * MiB : ctx.quick ? 32 * MiB : 128 * MiB;
  const { reps, warmup } = repsFor(ctx);
  const parallel = COLD_PARALLEL;
  ctx.log(`item 2: cold download of ${fmtBytes(size)} (${parallel} in parallel)`);
  const env = await openEnv('cold', size, { direct: true, config: { chunkSize: COLD_CHUNK, concurrency: parallel } });
  try {
    // The same bytes twice: 1 MiB shards (the fixture's) and `tessera pack`'s default 4 MiB,
    // published as a second model of the same server.
    const models = [
      { key: '1m', model: env.model, manifest: await env.fixture.manifest('1.0.0') },
      { key: '4m', model: `${env.model}-4m`, manifest: await env.fixture.pack('1.0.0', { shardSize: DEFAULT_SHARD, as: `${env.model}-4m` }) },
    ];
    for (const m of models) {
      m.shards = shardsOf(m.manifest).map((s) => `/models/_shards/${s.sha256}`);
      m.bytes = uniqueShardBytes(m.manifest);
    }
    const runs = {};
    const contenders = [
      ['plain', (m) => env.page.evaluate(downloadAll, [m.shards, parallel]).then((r) => ({ ok: true, ...r }))],
      ['opfs', (m) => env.browser.evaluateInServiceWorker(`(${storeAllInOpfs})(${JSON.stringify([m.shards, parallel, 'whole'])})`).then((r) => ({ ok: true, ...r }))],
      ['pipe', (m) => env.browser.evaluateInServiceWorker(`(${storeAllInOpfs})(${JSON.stringify([m.shards, parallel, 'pipe'])})`).then((r) => ({ ok: true, ...r }))],
      ['tessera', async (m) => {
        await env.page.evaluate((name) => window.harness.remove(name), m.model);
        const r = await env.page.evaluate(timedEnsure, m.model);
        return { ...r, bytes: m.bytes };
      }],
    ];
    for (const m of models) for (const [name] of contenders) runs[`${name}${m.key}`] = [];
    const ratios = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
    await repeat(reps, warmup, async ({ rep, warmUp }) => {
      for (const m of models) {
        const round = {};
        for (const [name, go] of contenders) {
          if (name === 'pipe' && m.key !== '1m') continue;
          const r = await settle(go(m), 600_000, `${name} (${m.key} shards)`);
          if (!r.ok) throw new Error(`${name} (${m.key} shards) failed: ${JSON.stringify(r.error)}`);
          if (r.bytes !== m.bytes) throw new Error(`${name} (${m.key} shards) got ${r.bytes} of ${m.bytes} bytes`);
          round[name] = mbps(r.bytes, r.ms);
        }
        if (warmUp) continue;
        for (const [name, v] of Object.entries(round)) {
          runs[`${name}${m.key}`].push(v);
          // Paired: each contender over the plain fetch of the same shards in the same round.
          ratios[`${name}${m.key}`].push(v / round.plain);
        }
      }
      ctx.log(`item 2: round ${rep + 1}/${reps + warmup}${warmUp ? ' (warm-up)' : ''}`);
    });

    // Live memory of the worker during one more (untimed) cold download of each model.
    const memory = {};
    for (const m of models) {
      await env.page.evaluate((name) => window.harness.remove(name), m.model);
      const sampler = await sampleLiveMemory(env.browser, { intervalMs: 250 });
      const r = await settle(env.page.evaluate(timedEnsure, m.model), 600_000, 'ensureModel (memory round)');
      memory[m.key] = await sampler.stop();
      if (!r.ok) throw new Error(`ensureModel (memory round) failed: ${JSON.stringify(r.error)}`);
      const shas = m.shards.map((u) => u.split('/').pop());
      m.pieceFiles = await env.browser.evaluateInServiceWorker(`(${countPieceFiles})(${JSON.stringify(shas)})`);
    }

    const row = (label, key) => [label, fmtMedian(runs[key]), fmtSpread(runs[key]), fmtRatio(median(ratios[key]))];
    const [m1, m4] = models;
    const ratio = median(ratios.tessera1m);
    const ratio4 = median(ratios.tessera4m);
    const ceiling = median(ratios.opfs1m);
    const memNote = (m, shard) =>
      `${fmtBytes(memory[m.key].swIdle)} before, peak ${fmtBytes(memory[m.key].sw)} (${memory[m.key].samples} samples) with ${shard} shards`;
    return {
      item: 2,
      id: 'cold-download',
      title: 'Cold download + verification (loopback)',
      setup:
        `${fmtBytes(m1.bytes)} model, the same bytes packed in ${m1.shards.length} shards of 1 MiB and in ${m4.shards.length} of 4 MiB (\`tessera pack\`'s default), straight from a release \`tessera serve\` (no proxy); ` +
        `tessera with the demo's config (concurrency ${parallel}, ${fmtBytes(COLD_CHUNK)} chunks); every contender ${parallel} downloads in parallel; tessera store emptied before each of its rounds; ` +
        `${warmup} warm-up + ${reps} measured rounds, contenders in turn within a round; median and min–max MB/s; ratios are per round over the plain fetch of the same shards in that round, median.`,
      columns: ['measure', 'median MB/s', 'spread', 'vs plain fetch (same shards)'],
      rows: [
        row('1 MiB shards: plain `fetch` from the page, no verification, no storage', 'plain1m'),
        row('1 MiB shards: plain `fetch` + each body stored whole in its own OPFS file (`createWritable`, one `write`, `close`) from the service worker, no verification (the storage ceiling)', 'opfs1m'),
        row('1 MiB shards: the same, each body piped into the OPFS writable as it arrives', 'pipe1m'),
        row('1 MiB shards: tessera `ensureModel` (signed manifest, Range downloads into OPFS files, WebCrypto sha256 of every shard)', 'tessera1m'),
        row('4 MiB shards: plain `fetch` from the page', 'plain4m'),
        row('4 MiB shards: plain `fetch` + OPFS file per shard from the service worker (the storage ceiling)', 'opfs4m'),
        row('4 MiB shards: tessera `ensureModel`', 'tessera4m'),
      ],
      data: {
        bytes: m1.bytes,
        shards: { '1m': m1.shards.length, '4m': m4.shards.length },
        parallel,
        reps,
        warmup,
        ...Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, summary(v, 'MB/s')])),
        ratios,
        liveSwMemory: memory,
        pieceFiles: { '1m': m1.pieceFiles, '4m': m4.pieceFiles },
      },
      notes: [
        `tessera runs at ${fmtRatio(ratio)} of a plain fetch with 1 MiB shards and ${fmtRatio(ratio4)} with 4 MiB shards; merely storing each 1 MiB shard in an OPFS file from the worker, ` +
          `with no verification, already runs at ${fmtRatio(ceiling)} (the storage ceiling: tessera's share of it is ${fmtRatio(ratio / ceiling)}). ` +
          'On loopback the CPU is the limit (Chromium, the worker and the server share the cores); on a real network link the link is the limit and the gap shrinks.',
        `OPFS writes (one file per stored piece, counted after that round): ${m1.pieceFiles} for ${m1.shards.length} shards of 1 MiB, ${m4.pieceFiles} for ${m4.shards.length} of 4 MiB.`,
        `Live service-worker memory during one more cold download (untimed; a full GC in the worker then \`Runtime.getHeapUsage\`, used heap + ArrayBuffers, every 250 ms): ${memNote(m1, '1 MiB')}; ${memNote(m4, '4 MiB')}.`,
      ],
    };
  } finally {
    await env.close();
  }
}

async function resumeAndUpdate(ctx) {
  const size = ctx.smoke ? 4 * MiB : ctx.quick ? 32 * MiB : 64 * MiB;
  const { reps } = repsFor(ctx, { full: 5 });
  ctx.log(`items 3, 4: ${fmtBytes(size)} model behind the counting proxy`);
  const env = await openEnv('resume', size, { direct: false });
  let plainBrowser = null;
  let plainProxy = null;
  try {
    const items = [];
    const manifest = await env.fixture.manifest('1.0.0');
    const total = uniqueShardBytes(manifest);
    const file = manifest.files.find((f) => f.path === 'weights.bin');
    const fileUrl = `/models/${env.model}/weights.bin`;

    if (!ctx.only || ctx.only.has(3)) {
      // The whole-file peer: a second proxy in front of the same server is another origin where no
      // service worker was ever registered; the page there fetches the file like a model loader.
      plainProxy = await startProxy(env.server.url);
      plainBrowser = await launchBrowser({ args: BENCH_BROWSER_ARGS });
      await plainBrowser.page.goto(`${plainProxy.url}/healthz`);

      const tessera = [];
      const whole = [];
      const cutAt = { tessera: [], whole: [] };
      for (let rep = 0; rep < reps; rep += 1) {
        // tessera: cut every connection once half the shard bytes went out; the same ensureModel
        // call resumes (stored shards kept, a partial shard resumed from its last stored chunk).
        await env.page.evaluate((m) => window.harness.remove(m), env.model);
        env.proxy.clearLog();
        const ensured = env.ensure(env.model, { timeoutMs: 600_000 });
        await env.proxy.waitFor((p) => p.bytesSent('/models/_shards/') >= total / 2, { timeoutMs: 600_000, what: '50% of the shard bytes' });
        cutAt.tessera.push(env.proxy.bytesSent('/models/_shards/') / total);
        for (const s of env.proxy.sockets) s.destroy();
        const r = await ensured;
        if (!r.ok) throw new Error(`ensureModel after the cut failed: ${JSON.stringify(r.error)}`);
        tessera.push(env.proxy.bytesSent('/models/_shards/'));

        // whole file: the same cut at 50%, then a fresh fetch from byte 0.
        plainProxy.clearLog();
        plainProxy.addFault({ path: fileUrl, cutAfter: Math.floor(file.size / 2), times: 1 });
        const attempt = () =>
          plainBrowser.page.evaluate(async (u) => {
            try {
              const res = await fetch(u, { cache: 'no-store' });
              const reader = res.body.getReader();
              for (;;) if ((await reader.read()).done) break;
              return true;
            } catch {
              return false;
            }
          }, fileUrl);
        if (await attempt()) throw new Error('the whole-file fetch was not cut');
        cutAt.whole.push(plainProxy.bytesSent(fileUrl) / file.size);
        if (!(await attempt())) throw new Error('the whole-file fetch failed after the cut');
        whole.push(plainProxy.bytesSent(fileUrl));
        ctx.log(`item 3: round ${rep + 1}/${reps}`);
      }
      const ratio = median(whole) / median(tessera);
      items.push({
        item: 3,
        id: 'interrupted-download',
        title: 'Interrupted download (cut at 50%)',
        setup:
          `${fmtBytes(file.size)} model (1 MiB shards, 256 KiB resume chunks), every connection cut once half the bytes were sent, then finished; ` +
          `bytes counted by the proxy in front of \`tessera serve\`; ${reps} rounds; median and min–max.`,
        columns: ['measure', 'bytes sent in total (median)', 'spread', '× model size', 'whole-file / tessera'],
        rows: [
          ['tessera: cut, the same `ensureModel` resumes', fmtBytes(median(tessera)), fmtSpread(tessera.map((b) => b / 1e6)) + ' MB', fmtRatio(median(tessera) / total), fmtRatio(1)],
          ['whole-file `fetch` (Transformers.js, WebLLM): cut, fetched again from byte 0', fmtBytes(median(whole)), fmtSpread(whole.map((b) => b / 1e6)) + ' MB', fmtRatio(median(whole) / file.size), fmtRatio(ratio)],
        ],
        data: { unit: 'bytes', modelBytes: total, reps, tessera, whole, cutAt },
        notes: [
          `tessera re-sent ${fmtBytes(median(tessera) - total)} beyond the model (the unstored tail of the shards in flight at the cut: at most one 256 KiB chunk each); ` +
            `a loader without resume pays the half it had already received again, ${fmtRatio(ratio)} tessera's bytes. A cut later in the download widens the gap (up to 2×).`,
          `The cut fires when the proxy has sent ≥ 50% (measured: tessera at ${fmtSpread(cutAt.tessera.map((x) => x * 100))}%, whole file at ${fmtSpread(cutAt.whole.map((x) => x * 100))}%).`,
        ],
      });
    }

    if (!ctx.only || ctx.only.has(4)) {
      const status = (await env.status()).status;
      if (status?.state !== 'ready') {
        const r = await env.ensure(env.model, { timeoutMs: 600_000 });
        if (!r.ok) throw new Error(`ensureModel failed: ${JSON.stringify(r.error)}`);
      }
      // One 1 MiB shard of weights.bin gets new bytes (a fine-tune touching one tensor).
      env.fixture.changeRegion('weights.bin', Math.floor(file.shards.length / 2) * SHARD_SIZE + 1000, 4096);
      const v2 = await env.fixture.pack('1.1.0');
      const newTotal = uniqueShardBytes(v2);
      env.proxy.clearLog();
      const up = await env.checkUpdate(env.model, { timeoutMs: 600_000 });
      if (!up.ok) throw new Error(`checkUpdate failed: ${JSON.stringify(up.error)}`);
      let now = (await env.status()).status;
      if (now?.version !== '1.1.0') {
        const r = await env.ensure(env.model, { timeoutMs: 600_000 });
        if (!r.ok) throw new Error(`ensureModel of 1.1.0 failed: ${JSON.stringify(r.error)}`);
        now = r.status;
      }
      if (now?.version !== '1.1.0') throw new Error(`update did not switch to 1.1.0: ${JSON.stringify(now)}`);
      const shardBytes = env.proxy.bytesSent('/models/_shards/');
      const manifestBytes = env.proxy.bytesSent(`/models/${env.model}/`);
      const tesseraBytes = shardBytes + manifestBytes;
      items.push({
        item: 4,
        id: 'update-one-shard',
        title: 'Update with one shard changed',
        setup:
          `${fmtBytes(newTotal)} model in 1 MiB shards, version 1.1.0 changes 4 KiB inside one shard; tessera's \`checkUpdate\` vs downloading the whole model again; ` +
          'bytes counted by the proxy (one run: the count is deterministic).',
        columns: ['measure', 'bytes downloaded', 'whole model / tessera'],
        rows: [
          ['tessera: signed manifest + changed shards only', fmtBytes(tesseraBytes, { exact: true }), fmtRatio(newTotal / tesseraBytes)],
          ['whole model again (file-level caches)', fmtBytes(newTotal, { exact: true }), fmtRatio(1)],
        ],
        data: { unit: 'bytes', tessera: { shards: shardBytes, manifests: manifestBytes }, wholeModel: newTotal },
        notes: [
          'Shards are content-addressed: unchanged shards are already stored under their sha256 and are not fetched again. ' +
            'The saving is the model size over the shard size; with the default 4 MiB shards a one-tensor change costs ~4 MiB.',
        ],
      });
    }
    return items;
  } finally {
    await plainBrowser?.close();
    await plainProxy?.close();
    await env.close();
  }
}
