// A local KV namespace over a directory, for plain `workerd serve` (tests, local runs): workerd
// sends a bound KV namespace's reads to a service as `GET /<urlencoded key>?urlencoded=true`;
// this service answers them from the disk service DISK, whose files are the keys (an artifacts
// directory as `tessera pack` writes it is then the namespace). Read-only.
export default {
  async fetch(request, env) {
    if (request.method !== 'GET') return new Response('read-only', { status: 405 });
    const url = new URL(request.url);
    const key = decodeURIComponent(url.pathname.slice(1));
    if (key === '' || key.split('/').some((s) => s === '' || s === '.' || s === '..')) {
      return new Response('not found', { status: 404 });
    }
    const file = await env.DISK.fetch(`http://disk/${key.split('/').map(encodeURIComponent).join('/')}`);
    if (!file.ok) return new Response('not found', { status: 404 });
    return new Response(file.body, { status: 200 });
  },
};
