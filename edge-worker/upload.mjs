#!/usr/bin/env node
// Uploads an artifacts directory (what `tessera pack --out DIR` writes) into the worker's KV
// namespace or R2 bucket, key = path in the directory (`NAME/manifest.json`,
// `NAME/versions/X.Y.Z.json`, `_shards/<sha256>`), optionally under a prefix (MODELS_PREFIX).
// Needs no tessera binary: the bytes go up as they are, and the worker verifies them.
//
//   node edge-worker/upload.mjs --artifacts DIR --kv-bulk OUT.json [--prefix P]
//       writes wrangler's bulk file; then: npx wrangler kv bulk put OUT.json --binding MODELS [--local]
//   node edge-worker/upload.mjs --artifacts DIR --r2-script OUT.sh --bucket NAME [--prefix P]
//       writes one `wrangler r2 object put` per file; then: sh OUT.sh (add --local for wrangler dev)
//
// Shards are uploaded before manifests in both outputs' order, so a reader never sees a
// manifest whose shards are not there yet (for the KV bulk file, wrangler writes in one batch).
// KV values are limited to 25 MiB: pack with --shard-size below that (the default is 4 MiB).

import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const KV_VALUE_LIMIT = 25 * 1024 * 1024;
const SHARD = /^_shards\/[0-9a-f]{64}$/;
const MANIFEST = /^[a-z0-9][a-z0-9._-]{0,63}\/(manifest\.json|versions\/[^/]+\.json)$/;

function walk(dir, root = dir, out = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, root, out);
    else if (entry.isFile()) out.push(relative(root, path).split(sep).join('/'));
  }
  return out;
}

/** The keys to upload, shards first, then versioned manifests, then current manifests. */
export function artifactKeys(artifacts) {
  const files = walk(artifacts).filter((k) => SHARD.test(k) || MANIFEST.test(k));
  const rank = (k) => (SHARD.test(k) ? 0 : k.includes('/versions/') ? 1 : 2);
  return files.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function main(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1];
  const prefix = args.prefix ?? '';
  if (!args.artifacts || (!args['kv-bulk'] && !args['r2-script'])) {
    console.error('usage: node edge-worker/upload.mjs --artifacts DIR (--kv-bulk OUT.json | --r2-script OUT.sh --bucket NAME) [--prefix P]');
    process.exit(2);
  }
  const keys = artifactKeys(args.artifacts);
  if (args['kv-bulk']) {
    const entries = keys.map((key) => {
      const path = join(args.artifacts, key);
      if (statSync(path).size > KV_VALUE_LIMIT) {
        throw new Error(`${key} is over KV's 25 MiB value limit: repack with a smaller --shard-size, or use R2`);
      }
      return { key: prefix + key, value: readFileSync(path).toString('base64'), base64: true };
    });
    writeFileSync(args['kv-bulk'], JSON.stringify(entries));
    console.log(`${entries.length} keys → ${args['kv-bulk']} (npx wrangler kv bulk put ${args['kv-bulk']} --binding MODELS)`);
  }
  if (args['r2-script']) {
    if (!args.bucket) throw new Error('--r2-script needs --bucket');
    const quote = (s) => `'${String(s).replace(/'/g, "'\\''")}'`;
    const lines = keys.map((key) => `npx wrangler r2 object put ${quote(`${args.bucket}/${prefix}${key}`)} --file ${quote(join(args.artifacts, key))} "$@"`);
    writeFileSync(args['r2-script'], `#!/bin/sh\nset -e\n${lines.join('\n')}\n`);
    console.log(`${keys.length} objects → ${args['r2-script']}`);
  }
}

if (process.argv[1] && process.argv[1].endsWith('upload.mjs')) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
