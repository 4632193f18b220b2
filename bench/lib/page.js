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
