// Measurements that run inside the page (passed to Playwright's `page.evaluate`, so each function
// is self-contained: no closures, no imports). Times come from the page's performance.now();
// bodies are read as streams and only counted, so a 500 MB read allocates no 500 MB buffer.

/**
 * Reads each `{url, range?}` in turn (default cache mode: the HTTP cache may answer) and counts
 * the body bytes. Resolves `{ms, bytes, reads: [{status, bytes, sw, transferSize}]}`; `sw` is
 * whether tessera answered (its `x-tessera-version` header), `transferSize` what Resource Timing
 * saw on the network (0 = from the HTTP cache or a service worker).
 * @param {Array<{url: string, range?: string}>} reads
 */
export async function readAll(reads) {
  performance.clearResourceTimings();
  const out = [];
  let bytes = 0;
  const t0 = performance.now();
  for (const { url, range } of reads) {
    const res = await fetch(url, range ? { headers: { Range: range } } : {});
    const reader = res.body.getReader();
    let n = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.byteLength;
    }
    bytes += n;
    out.push({ url, status: res.status, bytes: n, sw: res.headers.has('x-tessera-version') });
  }
  const ms = performance.now() - t0;
  for (const r of out) {
    const e = performance.getEntriesByName(new URL(r.url, location.href).href).pop();
    r.transferSize = e ? e.transferSize : null;
  }
  return { ms, bytes, reads: out };
}

/**
 * `window.harness.ensure(model)` (the test page's `Tessera.ensureModel`), timed in the page:
 * resolves `{ms, ok, error}`.
 * @param {string} model
 */
export async function timedEnsure(model) {
  const t0 = performance.now();
  const r = await window.harness.ensure(model);
  return { ms: performance.now() - t0, ok: r.ok, error: r.error };
}

/**
 * Fetches `urls` `parallel` at a time with `cache: 'no-store'` (the network, never a cache),
 * counting body bytes: a plain download with no verification and no storage.
 * @param {[string[], number]} args
 */
export async function downloadAll([urls, parallel]) {
  const t0 = performance.now();
  let next = 0;
  let bytes = 0;
  const worker = async () => {
    while (next < urls.length) {
      const res = await fetch(urls[next++], { cache: 'no-store' });
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.byteLength;
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return { ms: performance.now() - t0, bytes };
}

/**
 * Runs in the service worker (through `evaluateInServiceWorker`, stringified): fetches `urls`
 * `parallel` at a time with `cache: 'no-store'` and stores each body in its own OPFS file
 * (`bench-ceiling/<i>`), no verification, then removes the directory (untimed). `mode`
 * `'whole'`: the body read whole, then one `createWritable` + `write` + `close` (the fewest
 * storage operations a persisted shard can cost); `'pipe'`: the body piped into the writable as
 * it arrives. The platform's own cost of persisting the bytes: the ceiling of any stored
 * download here. Resolves `{ms, bytes}` (`performance.now()` of the worker).
 * @param {[string[], number, 'whole' | 'pipe']} args
 */
export async function storeAllInOpfs([urls, parallel, mode]) {
  const root = await navigator.storage.getDirectory();
  await root.removeEntry('bench-ceiling', { recursive: true }).catch(() => {});
  const dir = await root.getDirectoryHandle('bench-ceiling', { create: true });
  const t0 = performance.now();
  let next = 0;
  let bytes = 0;
  const worker = async () => {
    while (next < urls.length) {
      const i = next++;
      const res = await fetch(urls[i], { cache: 'no-store' });
      const file = await dir.getFileHandle(String(i), { create: true });
      if (mode === 'pipe') {
        let n = 0;
        const count = new TransformStream({ transform(chunk, c) { n += chunk.byteLength; c.enqueue(chunk); } });
        await res.body.pipeThrough(count).pipeTo(await file.createWritable());
        bytes += n;
      } else {
        const body = await res.arrayBuffer();
        const w = await file.createWritable();
        await w.write(body);
        await w.close();
        bytes += body.byteLength;
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const ms = performance.now() - t0;
  await root.removeEntry('bench-ceiling', { recursive: true });
  return { ms, bytes };
}

/**
 * Runs in the service worker (stringified): the number of files under each of `shas`' directories
 * in tessera's OPFS store (`tessera-shards/<sha256>/<offset>`, one file per stored piece), summed:
 * the OPFS writes (`createWritable` + `write` + `close`) a download made for them.
 * @param {string[]} shas
 */
export async function countPieceFiles(shas) {
  const root = await (await navigator.storage.getDirectory()).getDirectoryHandle('tessera-shards');
  let files = 0;
  for (const sha of shas) {
    const dir = await root.getDirectoryHandle(sha);
    for await (const _ of dir.keys()) files += 1;
  }
  return files;
}
