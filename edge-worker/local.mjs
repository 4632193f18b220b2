#!/usr/bin/env node
// Runs the edge worker on plain `workerd serve`, offline, with an artifacts directory as its KV
// namespace (MODELS, the default) or its R2 bucket (MODELS_R2, `--store r2`): workerd's KV
// binding reads go to js/kv-disk.mjs, its R2 binding's operations to js/r2-disk.mjs, which answer
// them from the directory (key `NAME/manifest.json` = file `NAME/manifest.json`,
// `_shards/<sha256>` = `_shards/<sha256>`), so what `tessera pack --out DIR` wrote is served
// as-is.
//
//   node edge-worker/local.mjs --artifacts DIR --trust tessera.pub.json [--port 8787]
//        [--store kv|r2] [--dist target/edge-worker] [--auth-key auth.pub.json --auth-audience AUD]
//        [--env NAME=VALUE]…
//
// The tests import `writeConfig` and `startWorkerd` from here.

import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, '..');
export const DEFAULT_DIST = join(ROOT, 'target', 'edge-worker');
const WORKERD = join(ROOT, 'node_modules', '.bin', 'workerd');

/** A free TCP port on 127.0.0.1 (for a worker or a server to listen on). */
export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
    server.on('error', fail);
  });
}

/** A capnp string literal (JSON's escapes are capnp's for these characters). */
const text = (s) => JSON.stringify(String(s));

/** The model stores `writeConfig` can bind: its binding, and the module that serves it. */
export const STORES = {
  kv: { binding: 'MODELS', module: 'kv-disk.mjs', kind: 'kvNamespace' },
  r2: { binding: 'MODELS_R2', module: 'r2-disk.mjs', kind: 'r2Bucket' },
};

/**
 * Writes a workerd config and the worker's modules into `dir`; returns the config's path.
 * `env`: the worker's text bindings (see js/worker.mjs); `store`: `kv` (binding MODELS) or `r2`
 * (binding MODELS_R2) over the artifacts directory.
 */
export function writeConfig({ dir, dist = DEFAULT_DIST, artifacts, port, env = {}, store = 'kv' }) {
  const backing = STORES[store];
  if (!backing) throw new Error(`unknown store ${JSON.stringify(store)} (kv or r2)`);
  for (const file of ['tessera_edge_worker.js', 'tessera_edge_worker_bg.wasm']) {
    copyFileSync(join(dist, file), join(dir, file));
  }
  copyFileSync(join(HERE, 'js', 'worker.mjs'), join(dir, 'worker.mjs'));
  copyFileSync(join(HERE, 'js', backing.module), join(dir, backing.module));
  const bindings = Object.entries(env)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `    (name = ${text(k)}, text = ${text(v)}),`)
    .join('\n');
  const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .edge),
    (name = "store", worker = .store),
    (name = "disk", disk = (path = ${text(resolve(artifacts))}, writable = false)),
  ],
  sockets = [ (name = "http", address = ${text(`127.0.0.1:${port}`)}, http = (), service = "main") ],
);
const edge :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "tessera_edge_worker.js", esModule = embed "tessera_edge_worker.js"),
    (name = "tessera_edge_worker_bg.wasm", wasm = embed "tessera_edge_worker_bg.wasm"),
  ],
  compatibilityDate = "2025-01-01",
  bindings = [
    (name = ${text(backing.binding)}, ${backing.kind} = "store"),
${bindings}
  ],
);
const store :Workerd.Worker = (
  modules = [ (name = ${text(backing.module)}, esModule = embed ${text(backing.module)}) ],
  compatibilityDate = "2025-01-01",
  bindings = [ (name = "DISK", service = "disk") ],
);
`;
  const path = join(dir, 'workerd.capnp');
  writeFileSync(path, config);
  return path;
}

/** Starts `workerd serve CONFIG`; resolves with the child once it listens. */
export function startWorkerd(config, { log = false } = {}) {
  const child = spawn(WORKERD, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`workerd did not start:\n${output}`)), 30_000);
    const seen = (chunk) => {
      output += chunk;
      if (log) process.stderr.write(chunk);
      if (/Listening on/.test(output)) {
        clearTimeout(timer);
        ok(Object.assign(child, { output: () => output }));
      }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`workerd exited (${code}):\n${output}`));
    });
  });
}

async function main(argv) {
  const args = { env: {} };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--env') {
      const at = value.indexOf('=');
      args.env[value.slice(0, at)] = value.slice(at + 1);
    } else {
      args[flag.replace(/^--/, '')] = value;
    }
  }
  if (!args.artifacts || !args.trust) {
    console.error('usage: node edge-worker/local.mjs --artifacts DIR --trust tessera.pub.json [--port 8787] [--store kv|r2] [--dist DIR] [--auth-key PUB.json --auth-audience AUD] [--env NAME=VALUE]…');
    process.exit(2);
  }
  const env = {
    TRUSTED_KEYS: readFileSync(args.trust, 'utf8'),
    ...(args['auth-key'] ? { AUTH_KEYS: readFileSync(args['auth-key'], 'utf8'), AUTH_AUDIENCE: args['auth-audience'] } : {}),
    ...args.env,
  };
  const dir = mkdtempSync(join(tmpdir(), 'tessera-edge-worker-'));
  const config = writeConfig({ dir, dist: args.dist ?? DEFAULT_DIST, artifacts: args.artifacts, port: args.port ?? 8787, env, store: args.store ?? 'kv' });
  const child = await startWorkerd(config, { log: true });
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      child.kill();
      process.exit(0);
    });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}
