// The network under test: `tessera serve` as a child process, and a fault-injecting HTTP proxy
// in front of it that the browser talks to (its origin is the app's origin). The proxy logs
// every request and can cut, corrupt, stall, slow down or de-range responses on command.
// Everything listens on 127.0.0.1 only; nothing here knows about service workers.

import { spawn } from 'node:child_process';
import http from 'node:http';
import { once } from 'node:events';
import { tesseraBin } from './fixtures.js';

/** How long `tessera serve` may take to print its address. */
const SERVER_START_MS = 15_000;

/**
 * Starts `tessera serve --artifacts ARTIFACTS --app APP --addr 127.0.0.1:0` (plus one `--trust`
 * per public key file in `trust`, which turns the edge inference API on, and `extraArgs`, e.g.
 * `['--infer-rate', '0']`).
 * Resolves `{ url, port, stderr(), stop() }` once it prints the address it listens on.
 */
export async function startServer({ artifacts, app, requestLog, trust = [], extraArgs = [] }) {
  const args = ['serve', '--artifacts', artifacts, '--addr', '127.0.0.1:0'];
  if (app) args.push('--app', app);
  for (const key of trust) args.push('--trust', key);
  if (requestLog) args.push('--request-log', requestLog);
  args.push(...extraArgs);
  const child = spawn(tesseraBin(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => {
    stderr = (stderr + d).slice(-20_000);
  });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tessera serve printed no address in ${SERVER_START_MS} ms: ${stderr}`));
    }, SERVER_START_MS);
    child.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
      const m = /http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`tessera serve exited (${code ?? signal}) before listening: ${stderr}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * A fault to apply to matching proxied requests (first match wins, in the order added).
 *
 * @typedef {object} FaultSpec
 * @property {string|RegExp|((entry: LogEntry) => boolean)} path  path prefix, pattern or predicate
 * @property {string} [method]        only this method (default: GET)
 * @property {number} [times]         how many requests it applies to (default: unlimited)
 * @property {number} [cutAfter]      send this many body bytes, then drop the connection
 * @property {number} [flipByteAt]    XOR the body byte at this offset with 0xff
 * @property {boolean} [ignoreRange]  drop the Range header upstream: a full 200 answers it
 * @property {number} [stallAfter]    after this many body bytes, send nothing more until
 *                                    {@link Proxy#releaseStalls}
 * @property {number} [delayMs]       wait this long before asking upstream
 * @property {number} [bytesPerSecond] throttle the body to about this rate
 * @property {number} [status]        answer this status with an empty body, upstream not asked
 * @property {boolean} [refuse]       drop the connection without answering, upstream not asked
 *                                    (the client sees a network error, not an HTTP one)
 */

/**
 * One proxied request.
 *
 * @typedef {object} LogEntry
 * @property {number} id
 * @property {string} method
 * @property {string} path        path and query as requested
 * @property {string|null} range  the request's Range header
 * @property {number|null} status status sent to the client
 * @property {number} bytes       body bytes actually written to the client
 * @property {boolean} cut        the proxy dropped the connection on purpose
 * @property {boolean} stalled    the proxy held the body back
 * @property {boolean} flipped    the proxy corrupted a body byte
 * @property {boolean} rangeIgnored the proxy removed the Range header
 * @property {string|null} authorization the request's Authorization header
 * @property {boolean} unauthorized the proxy answered 401 itself (see {@link Proxy#requireBearer})
 * @property {boolean} [refused]  the proxy dropped the connection without answering (fault `refuse`)
 * @property {boolean} done       the exchange is over (finished, cut or aborted)
 * @property {boolean} aborted    the client went away before the body was complete
 * @property {number} at          ms since the proxy started
 */

/** The fault-injecting proxy. Create with {@link startProxy}. */
export class Proxy {
  /** @param {string} upstream e.g. `http://127.0.0.1:1234` */
  constructor(upstream) {
    const u = new URL(upstream);
    this.upstreamHost = u.hostname;
    this.upstreamPort = Number(u.port);
    /** @type {LogEntry[]} */
    this.log = [];
    /** @type {Array<FaultSpec & {hits: number}>} */
    this.faults = [];
    this.stalls = new Set();
    /** @type {{prefix: string, token: string}|null} see {@link Proxy#requireBearer} */
    this.bearer = null;
    /** @type {{path: string, token: string}|null} see {@link Proxy#serveToken} */
    this.tokenRoute = null;
    this.sockets = new Set();
    this.started = Date.now();
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    this.server = http.createServer((req, res) => this.#handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    this.server.keepAliveTimeout = 5000;
    this.server.requestTimeout = 60_000;
  }

  /** The proxy's origin, e.g. `http://127.0.0.1:40123`. */
  get url() {
    return `http://127.0.0.1:${this.server.address().port}`;
  }

  /** Adds a fault; returns it (its `hits` counts the requests it applied to). */
  addFault(spec) {
    const fault = { method: 'GET', times: Infinity, ...spec, hits: 0 };
    this.faults.push(fault);
    return fault;
  }

  /** Removes every fault (stalled responses stay stalled until released). */
  clearFaults() {
    this.faults = [];
  }

  /**
   * Ends every stalled response: `'cut'` (default) drops its connection, `'continue'` lets the
   * rest of the body through.
   */
  releaseStalls(mode = 'cut') {
    for (const release of this.stalls) release(mode);
    this.stalls.clear();
  }

  /**
   * Requires `Authorization: Bearer <token>` on requests whose path starts with `prefix`; the
   * proxy answers any other such request 401 itself (upstream not asked). Call again to change
   * the accepted token; `null` turns the rule off.
   */
  requireBearer(prefix, token) {
    this.bearer = prefix === null ? null : { prefix, token };
  }

  /**
   * Answers `GET path` itself with `{"token": token}` (JSON, `no-store`), a token endpoint the
   * test controls; call again to change the token handed out.
   */
  serveToken(path, token) {
    this.tokenRoute = { path, token };
  }

  /** Forgets the log so far. */
  clearLog() {
    this.log = [];
  }

  /** Log entries whose path starts with `prefix` (or matches a RegExp / predicate). */
  requests(match = '') {
    return this.log.filter((e) => matches(match, e));
  }

  /** Sum of body bytes sent for matching requests. */
  bytesSent(match = '') {
    return this.requests(match).reduce((sum, e) => sum + e.bytes, 0);
  }

  /** Polls until `predicate(this)` is truthy; rejects after `timeoutMs`. */
  async waitFor(predicate, { timeoutMs = 20_000, what = 'proxy condition' } = {}) {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(25);
    }
  }

  /** A readable dump of the log, one request per line. */
  format() {
    return this.log
      .map((e) => {
        const flags = ['cut', 'stalled', 'flipped', 'rangeIgnored', 'aborted', 'unauthorized', 'refused'].filter((f) => e[f]);
        const auth = e.authorization ? ` auth=${JSON.stringify(e.authorization)}` : '';
        return `#${e.id} +${e.at}ms ${e.method} ${e.path} range=${e.range ?? '-'}${auth} -> ${e.status ?? '…'} ${e.bytes}B${flags.length ? ' [' + flags.join(',') + ']' : ''}`;
      })
      .join('\n');
  }

  /** Stops listening and drops every connection. */
  async close() {
    this.releaseStalls('cut');
    const closed = new Promise((r) => this.server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    this.agent.destroy();
    await closed;
  }

  #takeFault(entry) {
    const fault = this.faults.find(
      (f) => f.hits < f.times && f.method === entry.method && matches(f.path, entry),
    );
    if (fault) fault.hits += 1;
    return fault;
  }

  async #handle(req, res) {
    const entry = {
      id: this.log.length + 1,
      method: req.method,
      path: req.url,
      range: req.headers.range ?? null,
      status: null,
      bytes: 0,
      cut: false,
      stalled: false,
      flipped: false,
      rangeIgnored: false,
      authorization: req.headers.authorization ?? null,
      unauthorized: false,
      done: false,
      aborted: false,
      at: Date.now() - this.started,
    };
    this.log.push(entry);
    if (this.#answerLocally(req, res, entry)) return;
    const fault = this.#takeFault(entry);
    let upstreamReq = null;
    let upstreamRes = null;
    res.once('close', () => {
      if (!res.writableFinished && !entry.cut) entry.aborted = true;
      entry.done = true;
      upstreamReq?.destroy();
      upstreamRes?.destroy();
    });
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault?.refuse) {
      entry.refused = true;
      req.socket.destroy();
      return;
    }
    if (fault?.status) {
      entry.status = fault.status;
      res.writeHead(fault.status, { 'content-length': '0', 'cache-control': 'no-store' });
      res.end();
      return;
    }
    const headers = { ...req.headers, host: `${this.upstreamHost}:${this.upstreamPort}` };
    // Identity bodies only: byte counts and offsets then mean what they say.
    headers['accept-encoding'] = 'identity';
    if (fault?.ignoreRange && headers.range) {
      delete headers.range;
      delete headers['if-range'];
      entry.rangeIgnored = true;
    }
    upstreamReq = http.request(
      {
        host: this.upstreamHost,
        port: this.upstreamPort,
        method: req.method,
        path: req.url,
        headers,
        agent: this.agent,
      },
      (ures) => {
        upstreamRes = ures;
        entry.status = ures.statusCode;
        const outHeaders = { ...ures.headers };
        for (const h of ['connection', 'keep-alive', 'transfer-encoding']) delete outHeaders[h];
        if (res.destroyed) return;
        res.writeHead(ures.statusCode, outHeaders);
        this.#pump(ures, res, entry, fault).catch(() => res.destroy());
      },
    );
    upstreamReq.on('error', () => {
      if (!res.headersSent && !res.destroyed) {
        entry.status = 502;
        res.writeHead(502, { 'content-length': '0' });
        res.end();
      } else {
        res.destroy();
      }
    });
    req.pipe(upstreamReq);
  }

  /** Answers the token endpoint and unauthorized requests itself; `true` when it did. */
  #answerLocally(req, res, entry) {
    const pathname = req.url.split('?')[0];
    let status;
    let body;
    if (this.tokenRoute && req.method === 'GET' && pathname === this.tokenRoute.path) {
      status = 200;
      body = Buffer.from(JSON.stringify({ token: this.tokenRoute.token }));
    } else if (
      this.bearer &&
      req.url.startsWith(this.bearer.prefix) &&
      req.headers.authorization !== `Bearer ${this.bearer.token}`
    ) {
      status = 401;
      body = Buffer.from(JSON.stringify({ error: 'unauthorized' }));
      entry.unauthorized = true;
    } else {
      return false;
    }
    entry.status = status;
    entry.bytes = body.length;
    res.once('close', () => (entry.done = true));
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(body.length),
      'cache-control': 'no-store',
      ...(status === 401 ? { 'www-authenticate': 'Bearer' } : {}),
    });
    res.end(body);
    return true;
  }

  /** Copies the upstream body to the client, applying the fault chunk by chunk. */
  async #pump(ures, res, entry, fault) {
    let offset = 0;
    for await (const original of ures) {
      if (res.destroyed) return;
      let chunk = original;
      if (fault?.flipByteAt !== undefined && fault.flipByteAt >= offset && fault.flipByteAt < offset + chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[fault.flipByteAt - offset] ^= 0xff;
        entry.flipped = true;
      }
      const limit = fault?.cutAfter ?? fault?.stallAfter;
      if (limit !== undefined && offset + chunk.length >= limit) {
        const head = chunk.subarray(0, limit - offset);
        if (head.length) await this.#write(res, entry, head, fault);
        offset += head.length;
        if (fault.cutAfter !== undefined) {
          entry.cut = true;
          res.socket?.destroy();
          return;
        }
        entry.stalled = true;
        const mode = await new Promise((resolve) => {
          this.stalls.add(resolve);
          res.once('close', () => resolve('gone'));
        });
        if (mode !== 'continue') {
          if (mode === 'cut') entry.cut = true;
          res.socket?.destroy();
          return;
        }
        chunk = chunk.subarray(head.length);
        fault = { ...fault, stallAfter: undefined, cutAfter: undefined };
      }
      await this.#write(res, entry, chunk, fault);
      offset += chunk.length;
    }
    if (!res.destroyed) res.end();
  }

  /** Writes `chunk`, throttled if the fault says so; resolves once it is flushed. */
  async #write(res, entry, chunk, fault) {
    const step = fault?.bytesPerSecond ? Math.max(1024, Math.floor(fault.bytesPerSecond / 20)) : chunk.length;
    for (let i = 0; i < chunk.length; i += step) {
      const part = chunk.subarray(i, i + step);
      if (res.destroyed) return;
      await new Promise((resolve) => {
        res.once('close', resolve);
        res.write(part, () => {
          res.off('close', resolve);
          resolve();
        });
      });
      entry.bytes += part.length;
      if (fault?.bytesPerSecond) await sleep((part.length / fault.bytesPerSecond) * 1000);
    }
  }
}

/** Starts a proxy on 127.0.0.1 (free port) in front of `upstream`. */
export async function startProxy(upstream) {
  const proxy = new Proxy(upstream);
  await new Promise((resolve, reject) => {
    proxy.server.once('error', reject);
    proxy.server.listen(0, '127.0.0.1', resolve);
  });
  return proxy;
}

function matches(match, entry) {
  if (typeof match === 'function') return match(entry);
  if (match instanceof RegExp) return match.test(entry.path);
  return entry.path.startsWith(match);
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
