// Launches Debian's Chromium through playwright-core with a fresh profile, collects what the page
// and its service worker print, and wraps the CDP calls the scenarios need (stop all service
// workers, override an origin's quota). It downloads no browser and knows nothing of tessera.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

/** The browser: `$CHROMIUM` or Debian's `/usr/bin/chromium`. */
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const ARGS = [
  '--no-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** A running browser with one page, a CDP session on it and a console log. */
export class Browser {
  /** Use {@link launchBrowser}. */
  constructor(context, page, cdp, profile) {
    this.context = context;
    this.page = page;
    this.cdp = cdp;
    this.profile = profile;
    /** @type {string[]} console output of the page and its workers, and browser-side errors */
    this.logs = [];
    this.started = Date.now();
  }

  /** Appends one line to the log, stamped with seconds since launch. */
  note(source, text) {
    const secs = ((Date.now() - this.started) / 1000).toFixed(2).padStart(6);
    this.logs.push(`${secs}s ${source}: ${text}`);
  }

  /** Lines printed by the service worker (console messages not from a page). */
  swLogs() {
    return this.logs.filter((l) => / sw[ :]/.test(l));
  }

  /** Stops every service worker of the browser now (CDP `ServiceWorker.stopAllWorkers`). */
  async stopAllWorkers() {
    await this.cdp.send('ServiceWorker.enable');
    await this.cdp.send('ServiceWorker.stopAllWorkers');
    this.note('harness', 'ServiceWorker.stopAllWorkers');
  }

  /**
   * Runs `fn(call)` attached to the running service worker's CDP target (through
   * `Target.attachToTarget` from the page's session); `call(method, params)` sends one command
   * there and resolves its result (rejects with the protocol error). Resolves `null` when no
   * service worker runs.
   */
  async withServiceWorker(fn) {
    const { targetInfos } = await this.cdp.send('Target.getTargets');
    const sw = targetInfos.find((t) => t.type === 'service_worker');
    if (!sw) return null;
    const { sessionId } = await this.cdp.send('Target.attachToTarget', { targetId: sw.targetId, flatten: false });
    let nextId = 1;
    try {
      const call = async (method, params = {}) => {
        const id = nextId++;
        const answer = new Promise((resolve, reject) => {
          const onMessage = (event) => {
            if (event.sessionId !== sessionId) return;
            const msg = JSON.parse(event.message);
            if (msg.id !== id) return;
            this.cdp.off('Target.receivedMessageFromTarget', onMessage);
            if (msg.error) reject(new Error(`${method}: ${msg.error.message}`));
            else resolve(msg.result ?? null);
          };
          this.cdp.on('Target.receivedMessageFromTarget', onMessage);
        });
        await this.cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) });
        return answer;
      };
      return await fn(call);
    } finally {
      await this.cdp.send('Target.detachFromTarget', { sessionId }).catch(() => {});
    }
  }

  /**
   * The JS heap of the running service worker (CDP `Runtime.getHeapUsage` in its target):
   * `{ usedSize, totalSize, backingStorageSize }` in bytes — `backingStorageSize` counts
   * ArrayBuffer backing stores, the wasm memory among them. `null` when no service worker runs.
   * `collect`: run a full garbage collection in the worker first (CDP
   * `HeapProfiler.collectGarbage`), so only live memory counts.
   */
  async serviceWorkerHeap({ collect = false } = {}) {
    return this.withServiceWorker(async (call) => {
      if (collect) await call('HeapProfiler.collectGarbage').catch(() => null);
      return call('Runtime.getHeapUsage').catch(() => null);
    });
  }

  /**
   * Evaluates `expression` in the running service worker's global scope, awaits the promise it
   * gives and resolves its value (JSON-serializable). Rejects on an exception thrown there or
   * when no service worker runs.
   */
  async evaluateInServiceWorker(expression) {
    const result = await this.withServiceWorker(async (call) => {
      const r = await call('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
      if (r.exceptionDetails) throw new Error(`in the service worker: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
      return { value: r.result.value };
    });
    if (!result) throw new Error('no service worker runs');
    return result.value;
  }

  /** Sets `origin`'s storage quota to `quotaSize` bytes (CDP `Storage.overrideQuotaForOrigin`). */
  async overrideQuota(origin, quotaSize) {
    await this.cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize });
    this.note('harness', `quota of ${origin} set to ${quotaSize} bytes`);
  }

  /** Goes offline (or back online) for the page and its service worker. */
  async setOffline(offline) {
    await this.context.setOffline(offline);
    this.note('harness', offline ? 'offline' : 'online');
  }

  /** Closes the browser and removes its profile (kept when `TESSERA_E2E_KEEP` is set). */
  async close() {
    await this.context.close().catch(() => {});
    if (!process.env.TESSERA_E2E_KEEP) await rm(this.profile, { recursive: true, force: true });
  }
}

/**
 * Launches headless Chromium with a fresh persistent profile and one page; `args` are extra
 * command-line switches (e.g. `--enable-unsafe-webgpu`).
 */
export async function launchBrowser({ args = [] } = {}) {
  const profile = await mkdtemp(path.join(tmpdir(), 'tessera-e2e-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...ARGS, ...args],
    timeout: 30_000,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const cdp = await context.newCDPSession(page);
  const browser = new Browser(context, page, cdp, profile);
  context.on('console', (msg) => {
    const source = msg.page() ? 'page' : 'sw';
    browser.note(source, `${msg.type()}: ${msg.text()}`);
  });
  context.on('weberror', (err) => browser.note('error', String(err.error()?.stack ?? err.error())));
  context.on('serviceworker', (worker) => {
    browser.note('sw', `worker started: ${worker.url()}`);
    worker.on('close', () => browser.note('sw', 'worker closed'));
  });
  page.on('pageerror', (err) => browser.note('page', `uncaught: ${err.stack ?? err}`));
  page.on('crash', () => {
    browser.note('page', 'CRASHED');
    // Counted by playwright/soak.sh even when the scenario itself passes.
    console.error('tessera-e2e: renderer crashed');
  });
  page.on('requestfailed', (req) =>
    browser.note('page', `request failed: ${req.method()} ${req.url()} (${req.failure()?.errorText})`),
  );
  return browser;
}
