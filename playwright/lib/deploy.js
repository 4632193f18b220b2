// The README's deployment layout on loopback, over HTTPS: a test PKI made with openssl (a CA and
// one certificate per host), free high ports, the artifacts host run by Debian's nginx or Caddy
// from the very config files the README quotes (docs/deploy/), and `tessera serve` with TLS for
// the app and for the inference API. Chromium reaches the `*.tessera.test` names through
// `--host-resolver-rules` and trusts each server's key through `--ignore-certificate-errors-spki-list`
// (see {@link chromiumArgs}); curl (a non-browser client) gets `--cacert` and `--resolve`.
// Nothing here knows about service workers or the runtime.

import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createHash, X509Certificate } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

import { REPO_ROOT, tesseraBin } from './fixtures.js';

const run = promisify(execFile);

/** The config files the README quotes and the tests serve with. */
export const DEPLOY_DIR = path.join(REPO_ROOT, 'docs', 'deploy');
export const NGINX_MODELS_CONF = path.join(DEPLOY_DIR, 'nginx-models.conf');
export const NGINX_CORS_CONF = path.join(DEPLOY_DIR, 'tessera-cors.conf');
export const CADDY_MODELS = path.join(DEPLOY_DIR, 'models.Caddyfile');

/** The test domain; Chromium maps every name under it to 127.0.0.1. */
export const TEST_DOMAIN = 'tessera.test';

/** nginx's ngx_brotli static module as Debian installs it (libnginx-mod-http-brotli-static). */
export const NGINX_BROTLI_MODULE = '/usr/lib/nginx/modules/ngx_http_brotli_static_module.so';

/** How long a server may take to accept connections. */
const START_MS = 15_000;

/** Path of `binary` on PATH (or in /usr/sbin), or null. */
export function which(binary) {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin']) {
    if (dir && existsSync(path.join(dir, binary))) return path.join(dir, binary);
  }
  return null;
}

/**
 * The binary of a server the scenarios need, or null when it is missing and that is allowed.
 * Under CI (`CI=true`) a missing server is an error: `cargo xtask test` installs it.
 */
export function requireServer(binary, apt = binary) {
  const found = which(binary);
  if (found) return found;
  if (process.env.CI === 'true' || process.env.CI === '1') {
    throw new Error(`${binary} is not installed but CI=${process.env.CI}: \`cargo xtask test\` installs it (apt-get install -y ${apt})`);
  }
  return null;
}

/** A free TCP port on 127.0.0.1 (bound once and released, so a server can take it). */
export async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/** Base64 SHA-256 of a certificate's SubjectPublicKeyInfo (what Chromium's SPKI list takes). */
export function spkiHash(certPem) {
  const der = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

async function openssl(args, cwd) {
  try {
    await run('openssl', args, { cwd, timeout: 30_000 });
  } catch (err) {
    throw new Error(`openssl ${args.join(' ')} failed: ${err.stderr || err.message}`);
  }
}

/**
 * A test PKI under `dir`: a CA (`ca.pem`) and, per host name, a P-256 key (PKCS#8) and a
 * certificate for that name signed by the CA (`NAME.pem`, `NAME.fullchain.pem`, `NAME.key`).
 * Resolves `{ caFile, hosts: {NAME: {cert, chain, key, spki}} }`.
 */
export async function makePki(dir, names) {
  await mkdir(dir, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl([
    'req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=tessera test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ], dir);
  const caPem = await readFile(path.join(dir, 'ca.pem'), 'utf8');
  const hosts = {};
  let serial = 1;
  for (const name of names) {
    await writeFile(
      path.join(dir, `${name}.ext`),
      `subjectAltName=DNS:${name}\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n`,
    );
    await openssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    await openssl([
      'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(serial++),
      '-days', '2', '-out', `${name}.pem`, '-extfile', `${name}.ext`,
    ], dir);
    const leaf = await readFile(path.join(dir, `${name}.pem`), 'utf8');
    const chain = path.join(dir, `${name}.fullchain.pem`);
    await writeFile(chain, leaf + caPem);
    hosts[name] = { cert: path.join(dir, `${name}.pem`), chain, key: path.join(dir, `${name}.key`), spki: spkiHash(leaf) };
  }
  return { caFile: path.join(dir, 'ca.pem'), hosts };
}

/** Chromium switches: every `*.tessera.test` name → 127.0.0.1, and trust in these servers' keys. */
export function chromiumArgs(pki) {
  const spkis = Object.values(pki.hosts).map((h) => h.spki);
  return [`--host-resolver-rules=MAP *.${TEST_DOMAIN} 127.0.0.1`, `--ignore-certificate-errors-spki-list=${spkis.join(',')}`];
}

/**
 * Replaces each `[from, to]` in `text`, every occurrence; throws when one does not occur (the
 * config file changed: the test must change with it, never silently serve something else).
 */
export function substitute(text, pairs, file) {
  let out = text;
  for (const [from, to] of pairs) {
    if (!out.includes(from)) throw new Error(`${path.relative(REPO_ROOT, file)} no longer contains ${JSON.stringify(from)}`);
    out = out.split(from).join(to);
  }
  return out;
}

/** A child process with its stderr (tail) kept, stopped with SIGTERM (SIGKILL after 3 s). */
class Child {
  constructor(name, command, args, options = {}) {
    this.name = name;
    this.output = '';
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    const keep = (d) => {
      this.output = (this.output + d).slice(-20_000);
    };
    this.child.stdout.setEncoding('utf8').on('data', keep);
    this.child.stderr.setEncoding('utf8').on('data', keep);
  }

  get exited() {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Resolves once 127.0.0.1:`port` accepts connections; rejects if the process exits first. */
  async waitForPort(port) {
    const deadline = Date.now() + START_MS;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`${this.name} exited (${this.child.exitCode ?? this.child.signalCode}) before listening:\n${this.output}`);
      const ok = await new Promise((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${this.name} did not listen on ${port} within ${START_MS} ms:\n${this.output}`);
  }

  async stop() {
    if (this.exited) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * The artifacts host: `kind` 'nginx' or 'caddy', serving `root` (whose `models/` is the
 * artifacts directory) as `https://models.tessera.test:PORT` with `host`'s certificate and CORS
 * for `appOrigin`, from docs/deploy/ with only names, paths and ports replaced. Every request is
 * logged as JSON to `accessLog` ({@link ArtifactsHost#requests}).
 */
export class ArtifactsHost {
  static async start(kind, { dir, root, host, appOrigin }) {
    const self = new ArtifactsHost();
    self.kind = kind;
    self.dir = dir;
    self.port = await freePort();
    self.origin = `https://models.${TEST_DOMAIN}:${self.port}`;
    self.accessLog = path.join(dir, 'access.log');
    await mkdir(dir, { recursive: true });
    await writeFile(self.accessLog, '');
    if (kind === 'nginx') await self.#startNginx({ root, host, appOrigin });
    else if (kind === 'caddy') await self.#startCaddy({ root, host, appOrigin });
    else throw new Error(`unknown artifacts host ${kind}`);
    await self.process.waitForPort(self.port);
    return self;
  }

  /** Whether manifests are served brotli-compressed when a `.br` file is beside them. */
  get brotli() {
    return this.kind === 'caddy' || existsSync(NGINX_BROTLI_MODULE);
  }

  async #startNginx({ root, host, appOrigin }) {
    const bin = requireServer('nginx');
    if (!bin) throw new Error('nginx is not installed');
    const corsFile = path.join(this.dir, 'tessera-cors.conf');
    await writeFile(corsFile, await readFile(NGINX_CORS_CONF, 'utf8'));
    let server = substitute(await readFile(NGINX_MODELS_CONF, 'utf8'), [
      ['listen 443 ', `listen 127.0.0.1:${this.port} `],
      ['server_name models.example.com;', `server_name models.${TEST_DOMAIN};`],
      ['/etc/letsencrypt/live/models.example.com/fullchain.pem', host.chain],
      ['/etc/letsencrypt/live/models.example.com/privkey.pem', host.key],
      ['root /srv/tessera;', `root ${root};`],
      ['/etc/nginx/snippets/tessera-cors.conf', corsFile],
      ['"https://app.example.com"', `"${appOrigin}"`],
    ], NGINX_MODELS_CONF);
    // As the README says: without the ngx_brotli module, drop the brotli_static line.
    const brotli = existsSync(NGINX_BROTLI_MODULE);
    if (!brotli) server = server.split('\n').filter((l) => !/^\s*brotli_static\b/.test(l)).join('\n');
    const temp = (what) => path.join(this.dir, 'temp', what);
    for (const what of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await mkdir(temp(what), { recursive: true });
    const conf = [
      brotli ? `load_module ${NGINX_BROTLI_MODULE};` : '',
      // A root master would run its workers as nobody, who cannot read the test's 0700 temp dirs.
      process.getuid?.() === 0 ? 'user root root;' : '',
      'worker_processes 1;',
      `pid ${path.join(this.dir, 'nginx.pid')};`,
      'error_log stderr warn;',
      'events { worker_connections 256; }',
      'http {',
      '    include /etc/nginx/mime.types;',
      '    default_type application/octet-stream;',
      '    sendfile on;',
      `    client_body_temp_path ${temp('body')};`,
      `    proxy_temp_path ${temp('proxy')};`,
      `    fastcgi_temp_path ${temp('fastcgi')};`,
      `    uwsgi_temp_path ${temp('uwsgi')};`,
      `    scgi_temp_path ${temp('scgi')};`,
      `    log_format tessera escape=json '{"method":"$request_method","uri":"$request_uri","range":"$http_range","status":$status,"bytes":$body_bytes_sent,"encoding":"$sent_http_content_encoding"}';`,
      `    access_log ${this.accessLog} tessera;`,
      server,
      '}',
      '',
    ].join('\n');
    this.configFile = path.join(this.dir, 'nginx.conf');
    await writeFile(this.configFile, conf);
    const args = ['-p', this.dir, '-c', this.configFile, '-e', 'stderr', '-g', 'daemon off;'];
    try {
      await run(bin, ['-t', ...args.slice(0, -2)], { timeout: 20_000 });
    } catch (err) {
      throw new Error(`nginx -t refused the config built from docs/deploy/:\n${err.stderr || err.message}\n--- ${this.configFile} ---\n${conf}`);
    }
    this.process = new Child('nginx', bin, args);
  }

  async #startCaddy({ root, host, appOrigin }) {
    const bin = requireServer('caddy');
    if (!bin) throw new Error('caddy is not installed');
    const site = substitute(await readFile(CADDY_MODELS, 'utf8'), [
      [
        'models.example.com {',
        `https://models.${TEST_DOMAIN}:${this.port} {\n    bind 127.0.0.1\n    tls ${host.chain} ${host.key}\n` +
          `    log {\n        output file ${this.accessLog}\n        format json\n    }`,
      ],
      ['root * /srv/tessera ', `root * ${root} `],
      ['https://app.example.com', appOrigin],
    ], CADDY_MODELS);
    const conf = [
      '{',
      '    admin off',
      '    auto_https disable_redirects',
      `    https_port ${this.port}`,
      `    http_port ${await freePort()}`,
      '    skip_install_trust',
      `    storage file_system ${path.join(this.dir, 'data')}`,
      '}',
      '',
      site,
    ].join('\n');
    this.configFile = path.join(this.dir, 'Caddyfile');
    await writeFile(this.configFile, conf);
    const env = { ...process.env, HOME: this.dir, XDG_DATA_HOME: path.join(this.dir, 'data'), XDG_CONFIG_HOME: path.join(this.dir, 'config') };
    try {
      await run(bin, ['validate', '--config', this.configFile, '--adapter', 'caddyfile'], { timeout: 20_000, env });
    } catch (err) {
      throw new Error(`caddy validate refused the config built from docs/deploy/:\n${err.stderr || err.stdout || err.message}\n--- ${this.configFile} ---\n${conf}`);
    }
    this.process = new Child('caddy', bin, ['run', '--config', this.configFile, '--adapter', 'caddyfile'], { env });
  }

  /**
   * Requests logged so far: `{method, uri, range, status, bytes, encoding}` (nginx's and
   * Caddy's JSON logs read alike).
   */
  async requests() {
    const text = await readFile(this.accessLog, 'utf8');
    return text
      .split('\n')
      .filter(Boolean)
      .flatMap((line) => {
        try {
          return [JSON.parse(line)];
        } catch {
          return []; // a line still being written
        }
      })
      .map((e) =>
        this.kind === 'nginx'
          ? { ...e, range: e.range || null, encoding: e.encoding || null }
          : {
              method: e.request.method,
              uri: e.request.uri,
              range: e.request.headers?.Range?.[0] ?? null,
              status: e.status,
              bytes: e.size,
              encoding: e.resp_headers?.['Content-Encoding']?.[0] ?? null,
            },
      );
  }

  /** The process output and the access log, for a failure report. */
  async report() {
    const log = await readFile(this.accessLog, 'utf8').catch(() => '');
    return [`--- ${this.kind} output ---`, this.process?.output ?? '', `--- ${this.kind} access log ---`, log].join('\n');
  }

  async stop() {
    await this.process?.stop();
  }
}

/**
 * `tessera serve --tls-cert --tls-key --addr 127.0.0.1:PORT` plus `args`, on `port` (free when
 * omitted); resolves once it listens. `.origin` is `https://NAME:PORT`.
 */
export async function startTesseraTls(name, host, args, { port } = {}) {
  const p = port ?? (await freePort());
  const child = new Child(`tessera serve (${name})`, tesseraBin(), [
    'serve', '--addr', `127.0.0.1:${p}`, '--tls-cert', host.chain, '--tls-key', host.key, ...args,
  ]);
  await child.waitForPort(p);
  return { origin: `https://${name}:${p}`, port: p, output: () => child.output, stop: () => child.stop() };
}

/**
 * curl (a non-browser client) against the test hosts: `--cacert` the test CA, every
 * `*.tessera.test` name resolved to 127.0.0.1. Resolves `{ status, headers (lowercase names),
 * body (Buffer), httpVersion }`.
 */
export async function curl(pki, url, { method = 'GET', headers = {}, http = '--http2', extra = [] } = {}) {
  const u = new URL(url);
  const args = [
    '-sS', '--cacert', pki.caFile, '--resolve', `${u.hostname}:${u.port}:127.0.0.1`, http,
    ...(method === 'HEAD' ? ['-I'] : ['-X', method]), '-D', '-', '-o', '-',
    ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), ...extra, url,
  ];
  let stdout;
  try {
    ({ stdout } = await run('curl', args, { encoding: 'buffer', maxBuffer: 64 << 20, timeout: 30_000 }));
  } catch (err) {
    throw new Error(`curl ${args.join(' ')} failed: ${err.stderr?.toString() || err.message}`);
  }
  const end = stdout.indexOf('\r\n\r\n');
  const head = stdout.subarray(0, end).toString('latin1').split('\r\n');
  const [statusLine, ...lines] = head;
  const m = /^HTTP\/(\S+) (\d+)/.exec(statusLine);
  const out = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    out[k] = out[k] === undefined ? v : `${out[k]}, ${v}`;
  }
  return { status: Number(m?.[2]), httpVersion: m?.[1], headers: out, body: stdout.subarray(end + 4) };
}
