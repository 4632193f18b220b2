// Interop: a model published without tessera — an in-toto statement built and signed with an
// ECDSA P-256 key by `openssl` (cli/tests/interop/openssl_pack.py) — is accepted by the service
// worker trusting that key (tessera.config.json `trustedKeys` with `algorithm: "ecdsa-p256"`),
// downloads and serves byte for byte; an update whose signed statement was altered is refused
// with `manifest-signature-invalid` and the accepted version keeps serving.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { promisify } from 'node:util';

import { REPO_ROOT, SHARD_SIZE, sha256Hex } from '../lib/fixtures.js';
import { assertServedExactly, scenario } from '../lib/scenario.js';

const run = promisify(execFile);
const PACK = path.join(REPO_ROOT, 'cli', 'tests', 'interop', 'openssl_pack.py');

// The key exists before the world opens: the worker's config must trust it from the start.
const keyDir = await mkdtemp(path.join(tmpdir(), 'tessera-p256-'));
const keyFile = path.join(keyDir, 'p256.pem');
after(() => rm(keyDir, { recursive: true, force: true }));
await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
const spki = (await run('openssl', ['pkey', '-in', keyFile, '-pubout', '-outform', 'DER'], { encoding: 'buffer' })).stdout;
// tessera's public key file for a P-256 key: the SPKI DER, and its sha256 as the key id.
const p256Key = { keyid: sha256Hex(spki), algorithm: 'ecdsa-p256', publicKey: spki.toString('base64') };

/** Publishes the fixture's current files as `version` with openssl_pack.py. */
async function opensslPack(env, version) {
  const dir = path.join(env.fixture.inputs, version);
  await mkdir(dir, { recursive: true });
  const files = [];
  for (const [logical, bytes] of env.fixture.files) {
    const file = path.join(dir, logical);
    await writeFile(file, bytes);
    files.push(file);
  }
  await run('python3', [PACK, '--key', keyFile, '--pub-out', path.join(dir, 'pub.json'),
    '--name', env.model, '--version', version, '--out', env.fixture.artifacts,
    '--shard-size', String(SHARD_SIZE), ...files]);
  env.fixture.versions.set(version, new Map(env.fixture.files));
}

scenario('a manifest signed with a P-256 key by openssl downloads and serves; a tampered one is refused', async (env) => {
  assert.equal(p256Key.algorithm, 'ecdsa-p256');
  // The fixture's own 1.0.0 (signed by tessera's Ed25519 key, which this worker does not trust)
  // is replaced by openssl's.
  await opensslPack(env, '1.0.0');
  const v1 = env.fixture.files.get('weights.bin');
  const ready = await env.ensure();
  assert.ok(ready.ok, `ensureModel failed: ${JSON.stringify(ready.error)}`);
  assertServedExactly(await env.fetchModelFile('weights.bin'), v1, 'weights.bin of the openssl-signed 1.0.0');

  // 1.1.0, signed by openssl, then one byte of its signed statement changed on the server.
  env.fixture.changeRegion('weights.bin', 2 * SHARD_SIZE, 4096);
  await opensslPack(env, '1.1.0');
  const envelope = JSON.parse(await readFile(env.fixture.manifestPath, 'utf8'));
  const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
  statement.predicate.expires_at += 1;
  envelope.payload = Buffer.from(JSON.stringify(statement, null, 2)).toString('base64');
  await writeFile(env.fixture.manifestPath, JSON.stringify(envelope));
  const tampered = await env.checkUpdate();
  assert.equal(tampered.ok, false, `accepted a tampered statement: ${JSON.stringify(tampered.status)}`);
  assert.equal(tampered.error.code, 'manifest-signature-invalid', JSON.stringify(tampered.error));
  const info = await env.fetchModelFile('weights.bin');
  assertServedExactly(info, v1, 'weights.bin after the refused update');
  assert.equal(info.headers['x-tessera-version'], '1.0.0');
}, { config: { trustedKeys: [p256Key] } });
