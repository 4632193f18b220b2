// The harness itself, without a service worker: fixtures packed by the real CLI, `tessera serve`
// behind the fault-injecting proxy, and a plain page in Chromium. If these fail, the scenario
// results mean nothing.

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { launchBrowser } from '../lib/browser.js';
import { createFixture, SHARD_SIZE, sha256Hex, shardsOf } from '../lib/fixtures.js';
import { buildAppDir } from '../lib/scenario.js';
import { startProxy, startServer } from '../lib/server.js';

describe('harness', () => {
  let fixture;
  let server;
  let proxy;
  let v1;
  let shard; // first shard of weights.bin
  let shardBytes;

  before(async () => {
    fixture = await createFixture({ name: 'harness' });
    v1 = await fixture.manifest('1.0.0');
    shard = v1.files.find((f) => f.path === 'weights.bin').shards[0];
    shardBytes = fixture.files.get('weights.bin').subarray(0, shard.size);
    const app = await buildAppDir(fixture, { web: false });
    await writeFile(
      path.join(app, 'plain.html'),
      '<!doctype html><meta charset="utf-8"><title>plain</title><script type="module" src="/plain.js"></script>',
    );
    await writeFile(path.join(app, 'plain.js'), "console.log('plain page up'); window.up = true;\n");
    server = await startServer({ artifacts: fixture.artifacts, app });
    proxy = await startProxy(server.url);
  });

  after(async () => {
    await proxy?.close();
    await server?.stop();
    await fixture?.dispose();
  });

  const shardUrl = () => `${proxy.url}/models/_shards/${shard.sha256}`;

  test('fixture packs weights.bin into 1 MiB shards that hash to the manifest', async () => {
    const weights = v1.files.find((f) => f.path === 'weights.bin');
    assert.equal(weights.size, 7 * SHARD_SIZE + 12_345);
    assert.equal(weights.shards.length, 8);
    assert.equal(weights.sha256, sha256Hex(fixture.files.get('weights.bin')));
    const onDisk = await readFile(fixture.shardPath(shard.sha256));
    assert.equal(sha256Hex(onDisk), shard.sha256);
  });

  test('a changed region republishes exactly the shards it touches', async () => {
    fixture.changeRegion('weights.bin', 3 * SHARD_SIZE + 1000, 5000);
    const v2 = await fixture.pack('1.1.0');
    const before = new Set(shardsOf(v1).map((s) => s.sha256));
    const added = shardsOf(v2).filter((s) => !before.has(s.sha256));
    assert.deepEqual(added.map((s) => [s.file, s.index]), [['weights.bin', 3]]);
    await fixture.rollbackTo('1.0.0');
    assert.equal((await fixture.manifest()).version, '1.0.0');
  });

  test('untrusted, tampered and expired manifests differ from a good one as intended', async () => {
    const good = JSON.parse(await readFile(fixture.versionPath('1.0.0'), 'utf8'));
    await fixture.pack('1.2.0', { key: 'untrusted' });
    const untrusted = JSON.parse(await readFile(fixture.manifestPath, 'utf8'));
    assert.notEqual(untrusted.signatures[0].keyid, good.signatures[0].keyid);
    await fixture.pack('1.3.0');
    const signed = JSON.parse(await readFile(fixture.manifestPath, 'utf8'));
    await fixture.tamperSignature();
    const tampered = JSON.parse(await readFile(fixture.manifestPath, 'utf8'));
    assert.equal(tampered.payload, signed.payload);
    assert.equal(tampered.signatures[0].keyid, signed.signatures[0].keyid);
    assert.notEqual(tampered.signatures[0].sig, signed.signatures[0].sig);
    const expired = await fixture.packExpired('1.4.0');
    assert.ok(expired.expires_at * 1000 < Date.now(), 'expired manifest still valid');
    await fixture.rollbackTo('1.0.0');
  });

  test('proxy passes bytes through and logs method, path, range, status and bytes', async () => {
    proxy.clearLog();
    const full = Buffer.from(await (await fetch(shardUrl())).arrayBuffer());
    assert.equal(sha256Hex(full), shard.sha256);
    const res = await fetch(shardUrl(), { headers: { Range: 'bytes=100-199' } });
    assert.equal(res.status, 206);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), shardBytes.subarray(100, 200));
    const log = proxy.requests('/models/_shards/');
    assert.deepEqual(
      log.map((e) => [e.method, e.range, e.status, e.bytes]),
      [
        ['GET', null, 200, shard.size],
        ['GET', 'bytes=100-199', 206, 100],
      ],
    );
  });

  test('proxy cuts a matching response after N bytes, once', async () => {
    proxy.clearLog();
    const fault = proxy.addFault({ path: '/models/_shards/', cutAfter: 300_000, times: 1 });
    const res = await fetch(shardUrl());
    await assert.rejects(res.arrayBuffer());
    const again = Buffer.from(await (await fetch(shardUrl())).arrayBuffer());
    assert.equal(again.length, shard.size);
    assert.equal(fault.hits, 1);
    const [cut, whole] = proxy.requests('/models/_shards/');
    assert.equal(cut.cut, true);
    assert.equal(cut.bytes, 300_000);
    assert.equal(whole.cut, false);
    proxy.clearFaults();
  });

  test('proxy flips one body byte, and answers 200 to a Range request when told', async () => {
    proxy.addFault({ path: '/models/_shards/', flipByteAt: 4242, times: 1 });
    const flipped = Buffer.from(await (await fetch(shardUrl())).arrayBuffer());
    const diff = [...flipped].flatMap((b, i) => (b === shardBytes[i] ? [] : [i]));
    assert.deepEqual(diff, [4242]);
    proxy.addFault({ path: '/models/_shards/', ignoreRange: true, times: 1 });
    const res = await fetch(shardUrl(), { headers: { Range: 'bytes=10-19' } });
    assert.equal(res.status, 200);
    assert.equal((await res.arrayBuffer()).byteLength, shard.size);
    assert.equal(proxy.log.at(-1).rangeIgnored, true);
    proxy.clearFaults();
  });

  test('proxy stalls a response until released, and can answer a status itself', async () => {
    proxy.clearLog();
    proxy.addFault({ path: '/models/_shards/', stallAfter: 65_536, times: 1 });
    const pending = fetch(shardUrl()).then((r) => r.arrayBuffer());
    await proxy.waitFor((p) => p.log.some((e) => e.stalled), { what: 'stall' });
    assert.equal(proxy.log[0].bytes, 65_536);
    proxy.releaseStalls('continue');
    assert.equal(sha256Hex(Buffer.from(await pending)), shard.sha256);
    proxy.addFault({ path: '/models/harness/manifest.json', status: 503, times: 1 });
    assert.equal((await fetch(`${proxy.url}/models/harness/manifest.json`)).status, 503);
    assert.equal((await fetch(`${proxy.url}/models/harness/manifest.json`)).status, 200);
    proxy.clearFaults();
  });

  test('a plain page loads through the proxy, its console is collected, offline cuts it off', async () => {
    const browser = await launchBrowser();
    try {
      const { page } = browser;
      await page.goto(`${proxy.url}/plain.html`);
      await page.waitForFunction(() => window.up === true);
      const [response, length] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith(shard.sha256)),
        page.evaluate(async (u) => (await (await fetch(u)).arrayBuffer()).byteLength, shardUrl()),
      ]);
      assert.equal(length, shard.size);
      assert.equal(response.fromServiceWorker(), false);
      assert.ok(browser.logs.some((l) => l.includes('page: log: plain page up')), browser.logs.join('\n'));
      await browser.setOffline(true);
      const offline = await page.evaluate(async (u) => {
        try {
          await fetch(u, { cache: 'no-store' });
          return 'fetched';
        } catch (err) {
          return err.name;
        }
      }, shardUrl());
      assert.equal(offline, 'TypeError');
    } finally {
      await browser.close();
    }
  });
});
