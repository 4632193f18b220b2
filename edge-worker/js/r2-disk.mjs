// A local R2 bucket over a directory, for plain `workerd serve` (tests, benches, local runs),
// offline. workerd sends a bound R2 bucket's operations to a service as HTTP requests: a `get`
// arrives as `GET` with the operation in the `cf-r2-request` header (JSON: `{"version": 1,
// "method": "get", "object": KEY, …}`); the answer carries the object's metadata (JSON, its
// length in `cf-r2-metadata-size`) followed by its bytes, and a missing object is a 404 with a
// `cf-r2-error` header (R2's code 10007, "NoSuchKey"), which the binding turns into `null`.
// This service answers `get` and `head` from the disk service DISK, whose files are the keys (an
// artifacts directory as `tessera pack` writes it is then the bucket); everything else is
// refused (read-only; no ranges, conditionals or listings: the worker reads whole objects).
// `wrangler dev --local` emulates R2 with its own gateway; this is the same wire for workerd alone.

const enc = new TextEncoder();

function r2Error(status, v4code, message) {
  return new Response(null, {
    status,
    headers: { 'cf-r2-error': JSON.stringify({ version: 1, v4code, message }) },
  });
}

export default {
  async fetch(request, env) {
    let op;
    try {
      op = JSON.parse(request.headers.get('cf-r2-request') ?? '');
    } catch {
      return r2Error(400, 10040, 'unsupported request (this local bucket answers get and head)');
    }
    if (op.method !== 'get' && op.method !== 'head') {
      return r2Error(400, 10040, `"${op.method}" is not supported by this read-only local bucket`);
    }
    const key = String(op.object ?? '');
    if (key === '' || key.split('/').some((s) => s === '' || s === '.' || s === '..')) {
      return r2Error(404, 10007, 'The specified key does not exist.');
    }
    const file = await env.DISK.fetch(`http://disk/${key.split('/').map(encodeURIComponent).join('/')}`);
    if (!file.ok) return r2Error(404, 10007, 'The specified key does not exist.');
    const value = op.method === 'head' ? new Uint8Array(0) : new Uint8Array(await file.arrayBuffer());
    const size = op.method === 'head' ? Number(file.headers.get('content-length') ?? 0) : value.byteLength;
    const metadata = enc.encode(JSON.stringify({
      name: key,
      version: '0',
      size,
      etag: '0',
      uploaded: 0,
      httpMetadata: {},
      customMetadata: {},
      checksums: {},
    }));
    const body = new Uint8Array(metadata.byteLength + value.byteLength);
    body.set(metadata);
    body.set(value, metadata.byteLength);
    return new Response(body, { headers: { 'cf-r2-metadata-size': String(metadata.byteLength) } });
  },
};
