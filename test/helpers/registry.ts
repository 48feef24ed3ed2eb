/**
 * Real registries for tests: the Debian `docker-registry` binary (distribution 2.8) on a free
 * loopback port, optionally behind basic auth, bearer tokens from an in-test issuer, or a
 * proxy that redirects blob downloads to a second loopback host or injects faults.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export type AuthMode = 'none' | 'basic' | 'token';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

export interface TokenRequest extends RecordedRequest {
  service: string | null;
  scopes: string[];
  account: string | null;
  /** user name from the Basic credentials, or null when anonymous */
  user: string | null;
  status: number;
  granted: Array<{ type: string; name: string; actions: string[] }>;
}

/** Lets a test answer a request itself (return true) or pass it on to the real registry (false). */
export type Intercept = (req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean>;

export interface RegistryOptions {
  auth?: AuthMode;
  /** credentials for basic/token modes; generated when omitted */
  username?: string;
  password?: string;
  /** token mode: hand out pull-only tokens without credentials (as Docker Hub does) */
  anonymous?: boolean;
  /** token lifetime reported as expires_in, seconds (default 300) */
  tokenTtl?: number;
  /**
   * Put a proxy in front whose blob GETs answer with a redirect to a second server on another
   * loopback host (127.0.0.2) that serves the bytes and records every request's headers.
   * `true` means 307; a number picks the status.
   */
  redirectBlobsTo?: boolean | 301 | 302 | 303 | 307 | 308;
  /** Put a proxy in front that lets the test answer or alter requests. */
  intercept?: Intercept;
  /** Listen on this port instead of a free one (to test what happens when it is taken). */
  port?: number;
}

export interface Registry {
  /** '127.0.0.1:PORT' — what clients should use (the proxy when there is one) */
  host: string;
  /** 'http://127.0.0.1:PORT' */
  url: string;
  username?: string;
  password?: string;
  auth: AuthMode;
  /** the registry itself, bypassing any proxy (pushes go here) */
  directHost: string;
  /** the registry's storage root (filesystem driver) */
  storageDir: string;
  /** token mode: every request the issuer saw, in order */
  tokenRequests: TokenRequest[];
  /** token mode: the issuer's realm URL */
  tokenRealm?: string;
  /** token mode: the service name in challenges and tokens */
  service?: string;
  /** proxy mode: every request the proxy saw (before interception or redirection) */
  proxyRequests: RecordedRequest[];
  /** redirect mode: the blob server's base URL and the requests it received */
  blobServer?: { url: string; requests: RecordedRequest[] };
  /** mint a token directly (token mode), e.g. to push or to forge expiry tests */
  mintToken?(access: Array<{ type: string; name: string; actions: string[] }>, ttlSeconds?: number): string;
  stop(): Promise<void>;
}

const REGISTRY_BIN = '/usr/bin/docker-registry';

// A test that forgets stop() must not leave registries running after the worker exits.
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) if (c.exitCode === null) c.kill('SIGKILL');
});
const SERVICE = 'flux-test-registry';
const ISSUER = 'flux-test-issuer';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function listen(server: http.Server, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const addr = server.address();
  if (!addr || typeof addr !== 'object') throw new Error('server has no address');
  return addr.port;
}

async function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function record(req: http.IncomingMessage): RecordedRequest {
  return { method: req.method ?? 'GET', url: req.url ?? '/', headers: { ...req.headers } };
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

interface Signer {
  certPath: string;
  mint(sub: string, access: TokenRequest['granted'], ttl: number): string;
}

/** EC P-256 key + self-signed cert (openssl: node:crypto cannot issue certificates). */
async function makeSigner(dir: string): Promise<Signer> {
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', `/CN=${ISSUER}`,
  ], { stdio: 'ignore' });
  const key = createPrivateKey(await readFile(keyPath));
  const cert = new X509Certificate(await readFile(certPath));
  const x5c = [cert.raw.toString('base64')];
  return {
    certPath,
    mint(sub, access, ttl) {
      const now = Math.floor(Date.now() / 1000);
      const header = { typ: 'JWT', alg: 'ES256', x5c };
      const claims = {
        iss: ISSUER, sub, aud: SERVICE, exp: now + ttl, nbf: now - 10, iat: now,
        jti: randomBytes(12).toString('hex'), access,
      };
      const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
      // JWS ES256 wants the raw r||s form, not DER.
      const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
      return `${input}.${b64url(sig)}`;
    },
  };
}

function parseBasic(header: string | undefined): { user: string; pass: string } | null {
  if (!header?.startsWith('Basic ')) return null;
  const raw = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const i = raw.indexOf(':');
  return i < 0 ? null : { user: raw.slice(0, i), pass: raw.slice(i + 1) };
}

function parseScope(scope: string): { type: string; name: string; actions: string[] } | null {
  // repository:NAME:ACTIONS — NAME may itself hold a port-less path, never a colon in practice.
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last <= first) return null;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',').filter(Boolean) };
}

async function startTokenIssuer(opts: { username: string; password: string; anonymous: boolean; ttl: number; signer: Signer; log: TokenRequest[] }) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://issuer');
    const creds = parseBasic(req.headers.authorization);
    const entry: TokenRequest = {
      ...record(req),
      service: url.searchParams.get('service'),
      scopes: url.searchParams.getAll('scope'),
      account: url.searchParams.get('account'),
      user: creds?.user ?? null,
      status: 200,
      granted: [],
    };
    opts.log.push(entry);
    const deny = (status: number, message: string) => {
      entry.status = status;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message }] }));
    };
    if (url.pathname !== '/token' || req.method !== 'GET') return deny(404, 'not found');
    const authed = creds !== null && creds.user === opts.username && creds.pass === opts.password;
    if (creds && !authed) return deny(401, 'invalid username or password');
    if (!authed && !opts.anonymous) return deny(401, 'authentication required');
    for (const s of entry.scopes) {
      const scope = parseScope(s);
      if (!scope) continue;
      const actions = authed ? scope.actions : scope.actions.filter((a) => a === 'pull');
      if (actions.length) entry.granted.push({ ...scope, actions });
    }
    const token = opts.signer.mint(authed ? opts.username : '', entry.granted, opts.ttl);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: opts.ttl, issued_at: new Date().toISOString() }));
  });
  const port = await listen(server, '127.0.0.1');
  return { server, realm: `http://127.0.0.1:${port}/token` };
}

function blobPath(storageDir: string, digest: string): string | null {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m?.[1]) return null;
  return join(storageDir, 'docker/registry/v2/blobs/sha256', m[1].slice(0, 2), m[1], 'data');
}

/** Serves blobs straight from the registry's storage, honouring Range, recording headers. */
async function startBlobServer(storageDir: string, log: RecordedRequest[]) {
  const server = http.createServer(async (req, res) => {
    log.push(record(req));
    const url = new URL(req.url ?? '/', 'http://blobs');
    const m = /^\/blobs\/(sha256:[a-f0-9]{64})$/.exec(url.pathname);
    const file = m?.[1] ? blobPath(storageDir, m[1]) : null;
    const st = file ? await stat(file).catch(() => null) : null;
    if (!file || !st) {
      res.writeHead(404).end();
      return;
    }
    let start = 0;
    let end = st.size - 1;
    let status = 200;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range?.[1]) {
      start = Number(range[1]);
      if (range[2]) end = Math.min(end, Number(range[2]));
      if (start > end) {
        res.writeHead(416, { 'content-range': `bytes */${st.size}` }).end();
        return;
      }
      status = 206;
    }
    const headers: http.OutgoingHttpHeaders = {
      'content-type': 'application/octet-stream',
      'content-length': end - start + 1,
      'accept-ranges': 'bytes',
    };
    if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${st.size}`;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return void res.end();
    createReadStream(file, { start, end }).pipe(res);
  });
  const port = await listen(server, '127.0.0.2');
  return { server, url: `http://127.0.0.2:${port}` };
}

function forward(req: http.IncomingMessage, res: http.ServerResponse, target: string, method = req.method): void {
  const up = http.request(
    `http://${target}${req.url ?? '/'}`,
    { method, headers: { ...req.headers } },
    (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    },
  );
  up.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(up);
}

async function upstreamStatus(req: http.IncomingMessage, target: string): Promise<http.IncomingMessage> {
  return await new Promise((resolve, reject) => {
    const up = http.request(`http://${target}${req.url ?? '/'}`, { method: 'HEAD', headers: withoutRange(req.headers) }, resolve);
    up.on('error', reject);
    up.end();
  });
}

async function startProxy(target: string, opts: { intercept?: Intercept; redirect?: { status: number; base: string }; log: RecordedRequest[] }) {
  const server = http.createServer(async (req, res) => {
    opts.log.push(record(req));
    try {
      if (opts.intercept && (await opts.intercept(req, res))) return;
      const blob = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec((req.url ?? '').split('?')[0] ?? '');
      if (opts.redirect && blob?.[2] && req.method === 'GET') {
        // Ask the registry first so auth and 404s behave exactly as without the redirect.
        const head = await upstreamStatus(req, target);
        head.resume();
        if (head.statusCode === 200) {
          res.writeHead(opts.redirect.status, { location: `${opts.redirect.base}/blobs/${blob[2]}?sig=${randomBytes(6).toString('hex')}` });
          res.end();
          return;
        }
        res.writeHead(head.statusCode ?? 502, head.headers);
        res.end();
        return;
      }
      forward(req, res, target);
    } catch {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    }
  });
  const port = await listen(server, '127.0.0.1');
  return { server, host: `127.0.0.1:${port}` };
}

/** A header every response of this registry carries, so it is told apart from one that took its port. */
const ID_HEADER = 'X-Flux-Test-Registry';

function registryConfig(o: { dir: string; port: number; auth: string; id: string }): string {
  return [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${o.dir}/storage`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${o.port}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
    '  headers:',
    `    ${ID_HEADER}: [${o.id}]`,
    o.auth,
    '',
  ].join('\n');
}

async function waitForRegistry(child: ChildProcess, url: string, id: string, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${stderr()}`);
    let other: string | null = null;
    try {
      const r = await fetch(`${url}/v2/`);
      await r.arrayBuffer();
      other = r.headers.get(ID_HEADER);
      if ((r.status === 200 || r.status === 401) && other === id) return;
    } catch {
      /* not listening yet */
    }
    // Another server (a registry of a test running alongside) has the port: ours cannot bind it.
    if (other !== null && other !== id) throw new Error(`another registry answers on ${url}`);
    await sleep(50);
  }
  throw new Error(`docker-registry did not answer on ${url}: ${stderr()}`);
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<Registry> {
  const auth = opts.auth ?? 'none';
  const dir = await mkdtemp(join(tmpdir(), 'flux-registry-'));
  const username = opts.username ?? 'fluxuser';
  const password = opts.password ?? `pw-${randomBytes(6).toString('hex')}`;
  const servers: http.Server[] = [];
  const tokenRequests: TokenRequest[] = [];
  const proxyRequests: RecordedRequest[] = [];
  let authYaml = '';
  let realm: string | undefined;
  let signer: Signer | undefined;
  let child: ChildProcess | undefined;

  const cleanup = async () => {
    if (child && child.exitCode === null && child.pid) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(3000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await Promise.all(servers.map(close));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    if (auth === 'basic') {
      const line = execFileSync('htpasswd', ['-Bbn', username, password], { encoding: 'utf8' }).trim();
      await writeFile(join(dir, 'htpasswd'), `${line}\n`);
      authYaml = ['auth:', '  htpasswd:', '    realm: flux-test', `    path: ${dir}/htpasswd`].join('\n');
    } else if (auth === 'token') {
      signer = await makeSigner(dir);
      const issuer = await startTokenIssuer({ username, password, anonymous: opts.anonymous ?? false, ttl: opts.tokenTtl ?? 300, signer, log: tokenRequests });
      servers.push(issuer.server);
      realm = issuer.realm;
      authYaml = ['auth:', '  token:', `    realm: ${realm}`, `    service: ${SERVICE}`, `    issuer: ${ISSUER}`, `    rootcertbundle: ${signer.certPath}`].join('\n');
    }

    // The port is picked then handed over, so another process may grab it: retry a few times.
    let port = 0;
    for (let attempt = 0; ; attempt++) {
      port = opts.port ?? (await freePort());
      const cfg = join(dir, 'config.yml');
      await writeFile(cfg, registryConfig({ dir, port, auth: authYaml, id: `${basename(dir)}-${attempt}` }));
      let err = '';
      child = spawn(REGISTRY_BIN, ['serve', cfg], {
        stdio: ['ignore', 'ignore', 'pipe'],
        // The registry reads REGISTRY_* variables as configuration; a test's own variables must not reach it.
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      });
      const c = child;
      running.add(c);
      c.once('exit', () => running.delete(c));
      child.stderr?.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4000); });
      try {
        await waitForRegistry(child, `http://127.0.0.1:${port}`, `${basename(dir)}-${attempt}`, () => err);
        break;
      } catch (e) {
        if (child.exitCode === null) child.kill('SIGKILL');
        if (attempt >= 3) throw e;
      }
    }

    const directHost = `127.0.0.1:${port}`;
    let host = directHost;
    let blobServer: Registry['blobServer'];
    const redirect = opts.redirectBlobsTo;
    if (redirect || opts.intercept) {
      let redirectCfg: { status: number; base: string } | undefined;
      if (redirect) {
        const requests: RecordedRequest[] = [];
        const bs = await startBlobServer(join(dir, 'storage'), requests);
        servers.push(bs.server);
        blobServer = { url: bs.url, requests };
        redirectCfg = { status: redirect === true ? 307 : redirect, base: bs.url };
      }
      const proxy = await startProxy(directHost, { intercept: opts.intercept, redirect: redirectCfg, log: proxyRequests });
      servers.push(proxy.server);
      host = proxy.host;
    }

    const reg: Registry = {
      host,
      url: `http://${host}`,
      auth,
      directHost,
      storageDir: join(dir, 'storage'),
      tokenRequests,
      proxyRequests,
      stop: cleanup,
    };
    if (auth !== 'none') {
      reg.username = username;
      reg.password = password;
    }
    if (realm) {
      reg.tokenRealm = realm;
      reg.service = SERVICE;
    }
    if (blobServer) reg.blobServer = blobServer;
    if (signer) {
      const s = signer;
      reg.mintToken = (access, ttl = 300) => s.mint(username, access, ttl);
    }
    return reg;
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Same as startRegistry({ ...opts, redirectBlobsTo: true }). */
export async function startRedirectingRegistry(opts: Omit<RegistryOptions, 'redirectBlobsTo'> & { status?: 301 | 302 | 303 | 307 | 308 } = {}): Promise<Registry> {
  const { status, ...rest } = opts;
  return await startRegistry({ ...rest, redirectBlobsTo: status ?? 307 });
}

/** sha256 digest of bytes, as the registry names them. */
export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The HEAD that decides on a redirect asks about the whole blob: a Range would turn its 200 into a 206. */
function withoutRange(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const { range: _range, ...rest } = headers;
  return rest;
}
