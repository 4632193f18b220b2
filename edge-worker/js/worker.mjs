// tessera's edge inference API on a Workers-compatible runtime (workerd, Cloudflare Workers).
//
// The module workerd loads. It does the IO — the request, the manifest and the shards from KV
// (binding MODELS) or R2 (binding MODELS_R2), keyed by the artifact layout `tessera pack` writes
// (`NAME/manifest.json`, `_shards/<sha256>`) — and hands every byte to the Rust engine
// (`EdgeWorker`, tessera-core inside), which makes every decision and every answer. See
// ../README.md.
//
// Environment (all strings; JSON where noted):
//   TRUSTED_KEYS        tessera.pub.json contents, or a JSON array of them (required)
//   TRUST_THRESHOLD     distinct trusted signatures a manifest needs (default 1)
//   AUTH_KEYS           public key file(s) whose EdDSA tokens are accepted (optional)
//   AUTH_AUDIENCE       the `aud` tokens must carry (with AUTH_KEYS)
//   AUTH_LEEWAY_SECS    clock skew tolerated on exp/nbf (default 30)
//   INFER_RATE, INFER_BURST   per token subject (else client IP), per isolate (default 10/s, 20;
//                       INFER_RATE=0: unlimited)
//   INFER_MAX_BODY      largest request body in bytes (default 4 MiB)
//   MODELS_STORE        `kv` (binding MODELS) or `r2` (binding MODELS_R2); default: the one bound,
//                       KV first
//   MODELS_PREFIX       key prefix of the artifacts in KV/R2 (default none)
//   MANIFEST_RECHECK_SECS  re-read NAME/manifest.json at most this often (default 10; 0: always)
//   CORS_ORIGINS        origins (comma-separated) whose pages may call the API, as
//                       `tessera serve --cors-origin` (same allowed methods and headers)

import wasmModule from './tessera_edge_worker_bg.wasm';
import { initSync, EdgeWorker } from './tessera_edge_worker.js';

const PREFIX = '/v1/models/';
const SUFFIX = '/infer';

let engine; // EdgeWorker, one per isolate
const manifests = new Map(); // model -> { bytes, at }

// One request at a time loads a model (EdgeWorker keeps one load in progress). The others wait
// by polling a flag on their own timers, never by awaiting the loader's promise: workerd binds
// every I/O object to the request that created it, and a request awaiting another request's
// KV read fails ("Cannot perform I/O on behalf of a different request") or is cancelled as hung
// once that request ends. A loader that made no progress for LOAD_STALE_MS (its client went
// away and workerd dropped it mid-load) no longer holds the others back.
let loading = null; // { at } while a request loads; `at` moves on with every shard read
const LOAD_POLL_MS = 5;
const LOAD_STALE_MS = 30_000;
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

function number(value, fallback) {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  return Number.isFinite(n) ? n : fallback;
}

function json(value) {
  if (value === undefined || value === '') return undefined;
  return typeof value === 'string' ? JSON.parse(value) : value;
}

function configure(env) {
  const config = {};
  try {
    config.trusted_keys = json(env.TRUSTED_KEYS);
    config.threshold = number(env.TRUST_THRESHOLD, 1);
    config.auth_keys = json(env.AUTH_KEYS);
    if (env.AUTH_AUDIENCE) config.auth_audience = env.AUTH_AUDIENCE;
    config.auth_leeway_secs = number(env.AUTH_LEEWAY_SECS, 30);
    config.infer_rate = number(env.INFER_RATE, 10);
    config.infer_burst = number(env.INFER_BURST, 20);
    config.max_body_bytes = number(env.INFER_MAX_BODY, 4 * 1024 * 1024);
  } catch (e) {
    // Unparsable JSON: let the engine refuse its configuration with a typed code.
    return new EdgeWorker(`{"unparsable": ${JSON.stringify(String(e))}}`);
  }
  for (const k of Object.keys(config)) if (config[k] === undefined) delete config[k];
  return new EdgeWorker(JSON.stringify(config));
}

/**
 * `get(key)` → ArrayBuffer or null, over the KV namespace (MODELS) or the R2 bucket (MODELS_R2):
 * the one MODELS_STORE names (`kv` or `r2`), else whichever is bound (KV first); null when the
 * chosen binding is missing.
 */
function storage(env) {
  const prefix = env.MODELS_PREFIX ?? '';
  const choice = env.MODELS_STORE || (env.MODELS ? 'kv' : 'r2');
  if (choice === 'kv' && env.MODELS) return (key) => env.MODELS.get(prefix + key, 'arrayBuffer');
  if (choice === 'r2' && env.MODELS_R2) {
    return async (key) => {
      const object = await env.MODELS_R2.get(prefix + key);
      return object === null ? null : object.arrayBuffer();
    };
  }
  return null;
}

function respond(reply) {
  const response = new Response(reply.body, {
    status: reply.status,
    headers: JSON.parse(reply.headers),
  });
  reply.free();
  return response;
}

// CORS, as `tessera serve --cors-origin` (tower-http's CorsLayer in edge/src/router.rs).
const CORS_METHODS = 'GET,HEAD,POST,OPTIONS';
const CORS_HEADERS = 'range,if-range,if-none-match,authorization,content-type';
const CORS_EXPOSE = 'content-range,content-length,etag,accept-ranges,retry-after';
const PREFLIGHT_MAX_AGE = '600';

/** The request's Origin when CORS_ORIGINS allows it, else null. */
function allowedOrigin(request, env) {
  const origin = request.headers.get('origin');
  if (!origin || !env.CORS_ORIGINS) return null;
  const allowed = env.CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean);
  return allowed.includes(origin) ? origin : null;
}

function withCors(response, origin) {
  if (origin === null) return response;
  const headers = new Headers(response.headers);
  headers.set('access-control-allow-origin', origin);
  headers.set('access-control-expose-headers', CORS_EXPOSE);
  headers.append('vary', 'origin');
  return new Response(response.body, { status: response.status, headers });
}

function preflight(origin) {
  const headers = new Headers({ vary: 'origin, access-control-request-method, access-control-request-headers' });
  if (origin !== null) {
    headers.set('access-control-allow-origin', origin);
    headers.set('access-control-allow-methods', CORS_METHODS);
    headers.set('access-control-allow-headers', CORS_HEADERS);
    headers.set('access-control-max-age', PREFLIGHT_MAX_AGE);
  }
  return new Response(null, { status: 200, headers });
}

function failure(status, code, message) {
  return new Response(JSON.stringify({ error: { code, message } }), {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  });
}

/**
 * Brings the model's verified version up to date with the published manifest, then answers
 * `body` with it, all while holding the load flag (see `loading`). Every read is this request's.
 */
async function resolveAndAnswer(env, get, name, body, started) {
  while (loading !== null && Date.now() - loading.at < LOAD_STALE_MS) await sleep(LOAD_POLL_MS);
  const mine = { at: Date.now() };
  loading = mine;
  try {
    await resolve(env, get, name, mine);
    return engine.answer(name, body, Date.now() / 1000, started);
  } finally {
    if (loading === mine) loading = null;
  }
}

async function resolve(env, get, name, mine) {
  const now = () => Date.now() / 1000;
  // Another request took over (this one stalled past LOAD_STALE_MS): leave the load to it.
  const ousted = () => loading !== mine;
  const recheck = number(env.MANIFEST_RECHECK_SECS, 10) * 1000;
  let cached = manifests.get(name);
  if (!cached || Date.now() - cached.at >= recheck) {
    const bytes = await get(`${name}/manifest.json`);
    if (ousted()) return;
    cached = { bytes: bytes === null ? undefined : new Uint8Array(bytes), at: Date.now() };
    manifests.set(name, cached);
  }
  const shards = engine.begin(name, cached.bytes, now());
  if (shards.length === 0) return;
  for (const hex of shards) {
    const bytes = await get(`_shards/${hex}`);
    if (ousted()) return;
    mine.at = Date.now();
    // The engine checks each shard's size and sha256 as it arrives; false: refused, stop.
    if (!engine.shard(bytes === null ? undefined : new Uint8Array(bytes), now())) return;
  }
  engine.finish(now());
}

export default {
  async fetch(request, env) {
    const origin = allowedOrigin(request, env);
    if (request.method === 'OPTIONS' && request.headers.has('access-control-request-method')) {
      return preflight(origin);
    }
    return withCors(await handle(request, env), origin);
  },
};

/** One request, without CORS. */
async function handle(request, env) {
  const started = performance.now();
  const url = new URL(request.url);
  if (url.pathname === '/healthz') return new Response('ok\n');
  try {
    if (engine === undefined) {
      initSync({ module: wasmModule });
      engine = configure(env);
    }
    const length = request.headers.get('content-length');
    const early = engine.preflight(
      request.method,
      url.pathname,
      request.headers.get('authorization') ?? undefined,
      request.headers.get('cf-connecting-ip') ?? undefined,
      length === null ? undefined : Number(length),
      Date.now() / 1000,
    );
    if (early) return respond(early);
    const get = storage(env);
    if (get === null) {
      return failure(503, 'inference-unavailable',
        `inference is unavailable on this worker: no ${env.MODELS_STORE ? `${env.MODELS_STORE} ` : ''}model store (bind MODELS for KV or MODELS_R2 for R2; MODELS_STORE=kv|r2 picks one)`);
    }
    const name = url.pathname.slice(PREFIX.length, -SUFFIX.length);
    const body = new Uint8Array(await request.arrayBuffer());
    return respond(await resolveAndAnswer(env, get, name, body, started));
  } catch (e) {
    // A trap in the wasm engine (a panic aborts) or a storage failure: details in the log.
    console.error('tessera edge worker:', e && e.stack ? e.stack : e);
    return failure(500, 'internal-error', 'internal server error');
  }
}
