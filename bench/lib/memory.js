// Live JS memory of the service worker (and optionally the page) while something runs: every
// `intervalMs` a full garbage collection in the target (CDP `HeapProfiler.collectGarbage`), then
// `Runtime.getHeapUsage` — used heap + ArrayBuffer backing stores (the wasm memory among them).
// After a forced collection only what is still referenced counts, so the peak is memory the
// worker really holds, not garbage it had not collected yet. The collections cost time: sample
// only runs whose speed is not measured. A peak held for less than one interval can be missed.

/** Bytes a `Runtime.getHeapUsage` answer counts (used heap + ArrayBuffer backing stores); NaN for none. */
export function heapBytes(usage) {
  return usage ? usage.usedSize + (usage.backingStorageSize ?? 0) : NaN;
}

/** The larger of `a` and a sample `b` that may be NaN (no target answered). */
function peakOf(a, b) {
  return Number.isFinite(b) ? Math.max(a, b) : a;
}

/**
 * Starts sampling `browser`'s service worker (and the page, with `page: true`) every
 * `intervalMs`; `stop()` resolves `{ sw, page, swIdle, samples }`: the live peaks in bytes, the
 * worker's live memory at the start, and the number of samples taken (a sample while no worker
 * runs — stopped by the test — counts nothing).
 * @param {import('../../playwright/lib/browser.js').Browser} browser
 */
export async function sampleLiveMemory(browser, { intervalMs = 2000, page = false } = {}) {
  const swIdle = heapBytes(await browser.serviceWorkerHeap({ collect: true }).catch(() => null));
  const peak = { sw: peakOf(0, swIdle), page: 0, swIdle, samples: 0 };
  let running = true;
  let wake = () => {};
  const loop = (async () => {
    while (running) {
      const sw = await browser.serviceWorkerHeap({ collect: true }).catch(() => null);
      peak.sw = peakOf(peak.sw, heapBytes(sw));
      if (page) {
        await browser.cdp.send('HeapProfiler.collectGarbage').catch(() => null);
        peak.page = peakOf(peak.page, heapBytes(await browser.cdp.send('Runtime.getHeapUsage').catch(() => null)));
      }
      peak.samples += 1;
      await new Promise((r) => {
        wake = r;
        setTimeout(r, intervalMs);
      });
    }
  })();
  return {
    async stop() {
      running = false;
      wake();
      await loop;
      return peak;
    },
  };
}
