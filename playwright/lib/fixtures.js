// Test artifacts built with the real `tessera` CLI: a trusted and an untrusted signing key,
// deterministic pseudo-random model files, and helpers that publish later, expired, untrusted,
// badly signed or rolled-back manifests and corrupt a shard on disk.
// It only writes under its own temporary directory; it starts no server and no browser.

import { execFile } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root (two levels above this file). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Shard size every fixture is packed with (1 MiB): several shards per file, quick to pack. */
export const SHARD_SIZE = 1024 * 1024;

/** The `tessera` binary: `$TESSERA_BIN`, else `$CARGO_TARGET_DIR/debug/tessera`, else `target/debug/tessera`. */
export function tesseraBin() {
  const candidates = [
    process.env.TESSERA_BIN,
    process.env.CARGO_TARGET_DIR && path.join(process.env.CARGO_TARGET_DIR, 'debug', 'tessera'),
    path.join(REPO_ROOT, 'target', 'debug', 'tessera'),
  ].filter(Boolean);
  const found = candidates.find((c) => existsSync(c));
  if (!found) {
    throw new Error(
      `tessera binary not found (looked at ${candidates.join(', ')}); ` +
        'run `cargo build -p tessera-cli` or set TESSERA_BIN',
    );
  }
  return found;
}

/** Runs the CLI with `args`; rejects with its stderr when it exits non-zero. */
export async function tessera(args) {
  try {
    const { stdout } = await run(tesseraBin(), ['--quiet', ...args], {
      timeout: 60_000,
      maxBuffer: 1 << 20,
    });
    return stdout;
  } catch (err) {
    throw new Error(`tessera ${args.join(' ')} failed: ${err.stderr || err.message}`);
  }
}

/**
 * `size` deterministic pseudo-random bytes for `seed` (AES-128-CTR keystream of the seed's
 * SHA-256): the same seed always gives the same bytes, different seeds unrelated bytes.
 */
export function pseudoRandomBytes(seed, size) {
  const key = createHash('sha256').update(String(seed)).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

/** Lower-case hex SHA-256 of `bytes`. */
export function sha256Hex(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Decodes a DSSE envelope file into its manifest (display only: no signature check): an in-toto
 * statement's predicate (what `tessera pack` signs), or a schema-1 manifest as it is.
 */
export async function readManifest(file) {
  const envelope = JSON.parse(await readFile(file, 'utf8'));
  return manifestOfPayload(envelope.payload);
}

/** The manifest fields of a base64 DSSE payload: a statement's `predicate`, or the payload itself. */
export function manifestOfPayload(payload) {
  const decoded = JSON.parse(Buffer.from(payload, 'base64').toString('utf8'));
  return decoded._type ? decoded.predicate : decoded;
}

/**
 * A model published into a fresh artifacts directory.
 *
 * `files` maps logical path → Buffer for the current working copy; `pack(version)` publishes
 * it. Versions already packed keep their bytes in `versions`.
 */
export class Fixture {
  /** Use {@link createFixture}. */
  constructor(dir, name, files) {
    this.dir = dir;
    this.name = name;
    this.artifacts = path.join(dir, 'artifacts');
    this.inputs = path.join(dir, 'inputs');
    this.keys = {
      trusted: path.join(dir, 'keys', 'trusted'),
      untrusted: path.join(dir, 'keys', 'untrusted'),
    };
    /** @type {Map<string, Buffer>} current file contents by logical path */
    this.files = files;
    /** @type {Map<string, Map<string, Buffer>>} version → files as packed */
    this.versions = new Map();
  }

  /** Path of the published `manifest.json` (the one clients fetch). */
  get manifestPath() {
    return path.join(this.artifacts, this.name, 'manifest.json');
  }

  /** Path of the archived envelope of `version`. */
  versionPath(version) {
    return path.join(this.artifacts, this.name, 'versions', `${version}.json`);
  }

  /** The trusted public key object (`tessera.pub.json`), as `trustedKeys` wants it. */
  async trustedKey() {
    return JSON.parse(await readFile(path.join(this.keys.trusted, 'tessera.pub.json'), 'utf8'));
  }

  /**
   * Packs the current files as `version`. Options: `key` ('trusted' | 'untrusted'),
   * `expires` (CLI duration, default 30d), `force`, `shardSize` (default {@link SHARD_SIZE}),
   * `as`: publish the same files as another model of this artifacts directory (its manifest
   * is returned; `versions` and `manifest()` keep describing this fixture's own model).
   */
  async pack(version, { key = 'trusted', expires = '30d', force = false, shardSize = SHARD_SIZE, as = null } = {}) {
    const name = as ?? this.name;
    const dir = path.join(this.inputs, name === this.name ? version : `${name}@${version}`);
    await mkdir(dir, { recursive: true });
    const args = [
      'pack',
      '--key', path.join(this.keys[key], 'tessera.key'),
      '--name', name,
      '--version', version,
      '--expires', expires,
      '--shard-size', String(shardSize),
      '--out', this.artifacts,
    ];
    if (force) args.push('--force');
    // Not a graph, but the file a runtime would load: the manifest's declared entry point.
    if (this.files.has('weights.bin')) args.push('--entry', 'weights.bin');
    for (const [logical, bytes] of this.files) {
      const file = path.join(dir, logical.replaceAll('/', '__'));
      await writeFile(file, bytes);
      args.push(`${logical}=${file}`);
    }
    await tessera(args);
    if (name !== this.name) return readManifest(path.join(this.artifacts, name, 'versions', `${version}.json`));
    this.versions.set(version, new Map(this.files));
    return this.manifest(version);
  }

  /** The manifest of `version` (archived copy), or of the published one when omitted. */
  async manifest(version) {
    return readManifest(version ? this.versionPath(version) : this.manifestPath);
  }

  /**
   * Overwrites `length` bytes of `logical` at `offset` with fresh pseudo-random bytes (the
   * region a new version changes). Returns the new contents.
   */
  changeRegion(logical, offset, length, seed = `${logical}@${offset}`) {
    const old = this.files.get(logical);
    if (!old) throw new Error(`no file ${logical} in fixture`);
    const next = Buffer.from(old);
    pseudoRandomBytes(seed, length).copy(next, offset);
    this.files.set(logical, next);
    return next;
  }

  /** Publishes `version` with a manifest that expires after 1 s, and waits until it has. */
  async packExpired(version) {
    const manifest = await this.pack(version, { expires: '1s' });
    await waitPastExpiry(manifest);
    return manifest;
  }

  /** Copies the archived envelope of an older `version` back over `manifest.json`. */
  async rollbackTo(version) {
    await copyFile(this.versionPath(version), this.manifestPath);
  }

  /**
   * Breaks the published envelope's first signature (one bit of the raw signature flipped);
   * the payload stays intact and the keyid still names the trusted key.
   */
  async tamperSignature() {
    await tamperSignature(this.manifestPath);
  }

  /** Path of the content-addressed shard `sha256` on disk. */
  shardPath(sha256) {
    return path.join(this.artifacts, '_shards', sha256);
  }

  /** XORs one byte of the shard file `sha256` on disk with 0xff; call again to undo. */
  async flipShardByte(sha256, offset = 12345) {
    await flipFileByte(this.shardPath(sha256), offset);
  }

  /** Removes the fixture's directory unless `TESSERA_E2E_KEEP` is set. */
  async dispose() {
    if (!process.env.TESSERA_E2E_KEEP) await rm(this.dir, { recursive: true, force: true });
  }
}

/** Resolves once `manifest` (decoded) has expired, with a second's margin. */
export async function waitPastExpiry(manifest) {
  const waitMs = manifest.expires_at * 1000 - Date.now() + 1100;
  if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
}

/**
 * Breaks the first signature of the DSSE envelope in `file` (one bit of the raw signature
 * flipped); the payload stays intact and the keyid still names the key that signed it.
 */
export async function tamperSignature(file) {
  const envelope = JSON.parse(await readFile(file, 'utf8'));
  const raw = Buffer.from(envelope.signatures[0].sig, 'base64');
  raw[7] ^= 0x01;
  envelope.signatures[0].sig = raw.toString('base64');
  await writeFile(file, JSON.stringify(envelope, null, 2));
}

/** XORs the byte at `offset` of `file` with 0xff, in place; call again to undo. */
export async function flipFileByte(file, offset) {
  const handle = await open(file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    byte[0] ^= 0xff;
    await handle.write(byte, 0, 1, offset);
  } finally {
    await handle.close();
  }
}

/** Every shard digest of a manifest, with its size, file and index within that file. */
export function shardsOf(manifest) {
  return manifest.files.flatMap((f) =>
    f.shards.map((s, index) => ({ sha256: s.sha256, size: s.size, file: f.path, index })),
  );
}

/** Each distinct shard of a manifest once (first occurrence). */
export function uniqueShards(manifest) {
  return [...new Map(shardsOf(manifest).map((s) => [s.sha256, s])).values()];
}

/** Total payload bytes of a manifest (sum of its unique shards). */
export function uniqueShardBytes(manifest) {
  return uniqueShards(manifest).reduce((a, s) => a + s.size, 0);
}

/**
 * Creates the standard fixture: keys, `weights.bin` (7 MiB + 12 345 bytes, 8 shards),
 * `config.json`, packed as `1.0.0` unless `pack: false` (then the artifacts directory is empty).
 */
export async function createFixture({ name = 'tiny', weightsSize = 7 * SHARD_SIZE + 12_345, pack = true } = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'tessera-e2e-'));
  const files = new Map([
    ['weights.bin', pseudoRandomBytes(`${name}/weights`, weightsSize)],
    ['config.json', Buffer.from(JSON.stringify({ model: name, layers: 3, hidden: 64 }) + '\n')],
  ]);
  const fixture = new Fixture(dir, name, files);
  await tessera(['keygen', '--out', fixture.keys.trusted]);
  await tessera(['keygen', '--out', fixture.keys.untrusted]);
  // Unpacked, the directory still exists, so a server can start before the test packs its own files.
  await mkdir(fixture.artifacts, { recursive: true });
  if (pack) await fixture.pack('1.0.0');
  return fixture;
}
