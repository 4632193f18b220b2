// The hostile-manifest table as the browser suites use it: `tessera hostile-manifests` writes
// core's one table (the manifests every tessera client must refuse, each with its code) from a
// packed model, and `publish` puts one of its envelopes where clients fetch `manifest.json`.
// The service-worker and runtime scenarios run the same table, so both meet the same codes.

import { copyFile, mkdir, readFile, utimes } from 'node:fs/promises';
import path from 'node:path';

import { tessera } from './fixtures.js';

/**
 * Writes the table for the model whose manifest is `from`, signed with `key` (the private key
 * file the clients trust), into `out`; resolves to its rows
 * `[{case, code, model, previous, offered}]` with `previous`/`offered` as absolute paths.
 */
export async function hostileTable({ key, from, out, prefix = 't-' }) {
  await tessera(['hostile-manifests', '--key', key, '--from', from, '--prefix', prefix, '--out', out]);
  const rows = JSON.parse(await readFile(path.join(out, 'cases.json'), 'utf8'));
  return rows.map((row) => ({
    ...row,
    previous: row.previous && path.join(out, row.previous),
    offered: path.join(out, row.offered),
  }));
}

/** Modification times handed out by {@link publish}, each later than the last. */
let lastModified = Math.floor(Date.now() / 1000);

/**
 * Publishes envelope file `envelope` as `model`'s `manifest.json` under `artifacts`. Each
 * publication gets a later modification time: a static server that validates by
 * `Last-Modified` alone (one-second resolution) would otherwise answer `304` to a file replaced
 * within the same second.
 */
export async function publish(artifacts, model, envelope) {
  const dir = path.join(artifacts, model);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'manifest.json');
  await copyFile(envelope, file);
  lastModified += 2;
  await utimes(file, lastModified, lastModified);
}

/** The case names every consumer's table has, in order (core's `hostile::cases`). */
export const CASES = [
  'bad-signature', 'unknown-key', 'expired', 'not-yet-valid', 'name-mismatch',
  'two-onnx', 'missing-entry', 'subject-mismatch', 'rollback', 'mix-and-match',
];
