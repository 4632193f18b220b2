// Artifacts behind a bearer token: the proxy answers 401 to manifest and shard requests without
// the accepted token. The worker fetches its token from `tokenUrl`, attaches it to every artifact
// request, refetches it once when the server starts refusing it, and reports `auth-failed` when a
// fresh token is refused too; without a `tokenUrl` it attaches the token the page gave it.

import assert from 'node:assert/strict';

import { SHARD_SIZE } from '../lib/fixtures.js';
import { assertServedExactly, scenario } from '../lib/scenario.js';

const TOKEN_URL = '/token';

/** Requests for manifests and shards (everything under the artifacts prefix). */
function artifactRequests(env, from = 0) {
  return env.proxy.log.slice(from).filter((e) => e.path.startsWith('/models/'));
}

function tokenRequests(env, from = 0) {
  return env.proxy.log.slice(from).filter((e) => e.path.split('?')[0] === TOKEN_URL);
}

/** Asserts every artifact request in the log from `from` on carried `Bearer token`. */
function assertAllCarried(env, token, from, what) {
  const requests = artifactRequests(env, from);
  assert.ok(requests.length > 0, `${what}: no artifact request was made`);
  const without = requests.filter((e) => e.authorization !== `Bearer ${token}`);
  assert.deepEqual(
    without.map((e) => `${e.path} auth=${e.authorization}`),
    [],
    `${what}: every manifest and shard request must carry the token`,
  );
}

/** `Tessera.setToken(token)` from the page (the same client module the test page imported). */
function setToken(env, token) {
  return env.page.evaluate(async (t) => {
    const { Tessera } = await import('/tessera-client.js');
    await Tessera.setToken(t);
  }, token);
}

scenario(
  'artifact requests carry the token from tokenUrl, and a rotated token is refetched once',
  async (env) => {
    env.proxy.serveToken(TOKEN_URL, 'token-one');
    env.proxy.requireBearer('/models/', 'token-one');

    const ready = await env.ensure();
    assert.ok(ready.ok, `ensureModel failed: ${JSON.stringify(ready.error)}`);
    assert.equal(ready.status.version, '1.0.0');
    assertAllCarried(env, 'token-one', 0, 'first download');
    assert.equal(env.proxy.log.filter((e) => e.unauthorized).length, 0, 'no request should have been refused');
    assert.equal(tokenRequests(env).length, 1, 'the token is fetched once and reused');
    assertServedExactly(await env.fetchModelFile('weights.bin'), env.fixture.files.get('weights.bin'), 'weights.bin');

    // The server rotates its token: the one the worker holds is refused from now on.
    env.fixture.changeRegion('weights.bin', 2 * SHARD_SIZE + 100, 4096);
    await env.fixture.pack('1.1.0');
    env.proxy.serveToken(TOKEN_URL, 'token-two');
    env.proxy.requireBearer('/models/', 'token-two');
    const mark = env.proxy.log.length;

    const checked = await env.checkUpdate();
    assert.ok(checked.ok, `checkUpdate after the rotation failed: ${JSON.stringify(checked.error)}`);
    let status = checked.status;
    if (status.version !== '1.1.0' || status.state !== 'ready') {
      const ensured = await env.ensure();
      assert.ok(ensured.ok, `ensureModel after the rotation failed: ${JSON.stringify(ensured.error)}`);
      status = ensured.status;
    }
    assert.equal(status.version, '1.1.0');
    assert.equal(status.state, 'ready');

    const refused = env.proxy.log.slice(mark).filter((e) => e.unauthorized);
    assert.equal(refused.length, 1, 'exactly one request is refused with the old token');
    assert.equal(refused[0].authorization, 'Bearer token-one', 'the refused request carried the old token');
    assert.equal(tokenRequests(env, mark).length, 1, 'the token is refetched exactly once after a 401');
    const refusedAt = env.proxy.log.indexOf(refused[0]);
    assertAllCarried(env, 'token-two', refusedAt + 1, 'after the refresh');
    assert.ok(
      env.proxy.log.slice(refusedAt + 1).some((e) => e.path.startsWith('/models/_shards/') && [200, 206].includes(e.status)),
      'the changed shard was downloaded with the new token',
    );
    assertServedExactly(await env.fetchModelFile('weights.bin'), env.fixture.files.get('weights.bin'), 'weights.bin after the update');
  },
  { config: { tokenUrl: TOKEN_URL } },
);

scenario(
  'a token endpoint that only hands out refused tokens makes ensureModel fail with auth-failed',
  async (env) => {
    env.proxy.serveToken(TOKEN_URL, 'stale-token');
    env.proxy.requireBearer('/models/', 'the-real-token');

    const result = await env.ensure();
    assert.equal(result.ok, false, `ensureModel succeeded without an accepted token: ${JSON.stringify(result.status)}`);
    assert.equal(result.error.code, 'auth-failed', `wrong error: ${JSON.stringify(result.error)}`);
    const tokens = tokenRequests(env).length;
    assert.ok(tokens >= 1 && tokens <= 2, `the token must be refreshed at most once per refusal, fetched ${tokens} times`);
    assert.ok(env.proxy.log.some((e) => e.unauthorized), 'the proxy never refused a request');
    assert.equal(
      env.proxy.log.filter((e) => e.path.startsWith('/models/_shards/')).length,
      0,
      'no shard may be requested when the manifest was refused',
    );
    const served = await env.fetchModelFile('weights.bin');
    assert.notEqual(served.status, 200, 'a model file was served without a verified download');
  },
  { config: { tokenUrl: TOKEN_URL } },
);

scenario('without tokenUrl the token set by the page is attached to artifact requests', async (env) => {
  env.proxy.requireBearer('/models/', 'page-token');

  const refused = await env.ensure();
  assert.equal(refused.ok, false, 'ensureModel succeeded before the page set a token');
  assert.equal(refused.error.code, 'auth-failed', `wrong error: ${JSON.stringify(refused.error)}`);

  await setToken(env, 'page-token');
  const mark = env.proxy.log.length;
  const ready = await env.ensure();
  assert.ok(ready.ok, `ensureModel with the page's token failed: ${JSON.stringify(ready.error)}`);
  assert.equal(ready.status.state, 'ready');
  assertAllCarried(env, 'page-token', mark, 'with the page token');
  assert.equal(tokenRequests(env).length, 0, 'no token endpoint is configured, none may be asked');
  assertServedExactly(await env.fetchModelFile('weights.bin'), env.fixture.files.get('weights.bin'), 'weights.bin');
});
