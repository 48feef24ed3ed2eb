/**
 * One registry endpoint (a host, maybe a mirror) and one repository: `/v2/` ping, manifests and
 * blobs, with auth, retries and redirects. Every digest is validated before it goes into a URL.
 */
import type { Readable } from 'node:stream';
import { FluxError } from '../errors.js';
import { assertDigest, isDigest } from '../image/digest.js';
import { sha256Digest } from '../image/sha256.js';
import { MANIFEST_ACCEPT, MANIFEST_MAX_BYTES, baseMediaType, parseManifest } from '../image/manifest.js';
import type { Descriptor, Digest, RawManifest } from '../image/types.js';
import { authModeFrom, basicHeader, bearerToken, type AuthMode } from './auth.js';
import { limitBlob, type BlobStream } from './blob-stream.js';
import { parseChallenges } from './challenge.js';
import { isLoopbackHost, type Endpoint } from './config.js';
import type { Credentials } from './credentials.js';
import { DigestMismatchError, RegistryError, errorFromNetwork, errorFromResponse, isRetryableStatus, isTlsError } from './errors.js';
import { discard, parseRetryAfter, readBody, send, withRetry, type HttpResponse, type RetryInfo, type RetryPolicy } from './http.js';
import { errnoCode } from '../errors.js';
import { lap } from '../timing.js';

const TAG_RE = /^[\w][\w.-]{0,127}$/;

interface PingResult {
  base: URL;
  mode: AuthMode;
}

/**
 * What each host said about its scheme and auth, shared by every image pulled from it in this
 * process: through `/v2/` (ping), or through the first request itself (see probe). Undefined: a
 * probe ended before the scheme was known; the waiter then asks `/v2/` itself.
 */
const pings = new Map<string, Promise<PingResult | undefined>>();
const MAX_REDIRECTS = 5;

export interface ClientOptions {
  /** Registry name as the user wrote it (`docker.io`), for messages and `flux login` hints. */
  registry: string;
  repository: string;
  /** Fixed credentials; `null` forces anonymous; undefined looks them up when a challenge asks. */
  credentials?: Credentials | null;
  lookupCredentials?: (registry: string, repository: string) => Promise<Credentials | undefined>;
  onRetry?: (info: RetryInfo & { what: string }) => void;
  userAgent?: string;
  /** Ask tokens to push as well as pull (flux push). */
  push?: boolean;
  /** Other repositories of the registry to pull from (the source of a cross-repository mount). */
  alsoPullFrom?: string[];
}

/**
 * The schemes `/v2/` is probed with, in order. HTTPS only, unless the endpoint may be spoken to
 * insecurely. On loopback plain HTTP comes first: a local registry rarely speaks TLS, trying TLS
 * first cost each pull loading TLS and a failed handshake (about 35 ms), and nothing leaves the
 * machine either way. Elsewhere HTTPS stays first, so that a registry speaking both is never
 * spoken to in the clear.
 */
export function pingSchemes(ep: Pick<Endpoint, 'host' | 'insecure'>): Array<'https:' | 'http:'> {
  if (!ep.insecure) return ['https:'];
  return isLoopbackHost(ep.host) ? ['http:', 'https:'] : ['https:', 'http:'];
}

/**
 * Whether a failed probe looks like the server speaks the other protocol: for HTTPS, a TLS-level
 * failure; for plain HTTP, a reset connection, a reply that is not HTTP, or the 400 a TLS server
 * answers a plain request with.
 */
function wrongScheme(err: unknown, scheme: string): boolean {
  const cause = err instanceof FluxError && err.cause !== undefined ? err.cause : err;
  const code = errnoCode(cause) ?? '';
  if (scheme === 'https:') return isTlsError(cause) || code === 'ECONNRESET' || code === 'EPROTO' || (err instanceof RegistryError && err.code === 'TLS');
  return code === 'ECONNRESET' || code.startsWith('HPE_') || (err instanceof RegistryError && err.status === 400);
}

export class RegistryClient {
  readonly endpoint: Endpoint;
  private readonly opts: ClientOptions;
  private base: URL | undefined;
  private mode: AuthMode | undefined;
  private creds: Promise<Credentials | undefined> | undefined;

  constructor(endpoint: Endpoint, opts: ClientOptions) {
    this.endpoint = endpoint;
    this.opts = opts;
  }

  private get scopes(): string[] {
    const own = `repository:${this.opts.repository}:${this.opts.push ? 'pull,push' : 'pull'}`;
    return [own, ...(this.opts.alsoPullFrom ?? []).map((r) => `repository:${r}:pull`)];
  }

  private retryPolicy(what: string) {
    const onRetry = this.opts.onRetry;
    return { onRetry: onRetry ? (info: RetryInfo) => onRetry({ ...info, what }) : undefined };
  }

  private credentials(): Promise<Credentials | undefined> {
    if (this.opts.credentials === null) return Promise.resolve(undefined);
    if (this.opts.credentials !== undefined) return Promise.resolve(this.opts.credentials);
    const lookup = this.opts.lookupCredentials;
    this.creds ??= lookup ? lookup(this.endpoint.authHost, this.opts.repository) : Promise.resolve(undefined);
    return this.creds;
  }

  private netError(err: unknown): FluxError {
    return errorFromNetwork(err, { registry: this.opts.registry, host: this.endpoint.host });
  }

  /**
   * `GET /v2/`: finds the scheme (HTTPS; plain HTTP only for insecure endpoints, as docker does)
   * and how the registry wants us to authenticate.
   */
  ping(): Promise<void> {
    if (this.base) return Promise.resolve();
    let p = pings.get(this.pingKey);
    if (!p) {
      const ping = this.doPing();
      pings.set(this.pingKey, ping);
      ping.catch(() => { if (pings.get(this.pingKey) === ping) pings.delete(this.pingKey); });
      p = ping;
    }
    return p.then((r) => {
      // A probe that ended before it knew the scheme: ask /v2/ (its key is free again).
      if (!r) return this.ping();
      this.base = r.base;
      this.mode = r.mode;
      return undefined;
    });
  }

  private get pingKey(): string {
    return `${this.endpoint.host}|${this.endpoint.insecure}|${this.opts.userAgent ?? ''}`;
  }

  private async doPing(): Promise<PingResult> {
    const schemes = pingSchemes(this.endpoint);
    let firstErr: unknown;
    for (const [n, scheme] of schemes.entries()) {
      const base = new URL(`${scheme}//${this.endpoint.host}/`);
      // A probe that may fall through to the other scheme is not worth retries: a server of the
      // other kind answers it the same way every time.
      const policy = n < schemes.length - 1 ? { tries: 1 } : this.retryPolicy(`${this.endpoint.host}/v2/`);
      try {
        const res = await withRetry(async () => {
          let r: HttpResponse;
          lap(`pull: asking ${base.protocol}//${this.endpoint.host}/v2/`);
          try {
            r = await send(new URL('/v2/', base), { headers: { 'user-agent': this.opts.userAgent }, insecureTls: this.endpoint.insecure });
          } catch (err) {
            throw this.netError(err);
          }
          if (isRetryableStatus(r.status)) {
            discard(r);
            throw Object.assign(errorFromResponse(r.status, undefined, { registry: this.opts.registry, what: '/v2/', kind: 'ping' }), { retryAfterMs: parseRetryAfter(r.headers['retry-after']) });
          }
          return r;
        }, policy);
        discard(res);
        let mode: AuthMode;
        if (res.status === 200) mode = { kind: 'none' };
        else if (res.status === 401) mode = authModeFrom(parseChallenges(res.headers['www-authenticate']), this.opts.registry);
        else throw errorFromResponse(res.status, undefined, { registry: this.opts.registry, what: '/v2/', kind: 'ping' });
        return { base, mode };
      } catch (err) {
        if (n === schemes.length - 1) {
          // Both failed: the first probe's error says more when the second only failed for speaking the wrong protocol.
          throw firstErr !== undefined && wrongScheme(err, scheme === 'http:' ? 'https:' : 'http:') ? firstErr : err;
        }
        if (!wrongScheme(err, scheme)) throw err;
        firstErr = err;
      }
    }
    throw new Error('unreachable');
  }

  /**
   * For `flux login`: `/v2/` with the credentials (through a token without scope for a Bearer
   * registry, as docker login does). Returns false when the registry needs no login at all.
   */
  async checkCredentials(): Promise<boolean> {
    await this.ping();
    const mode = this.mode!;
    if (mode.kind === 'none') return false;
    const creds = await this.credentials();
    if (!creds) throw new RegistryError('UNAUTHORIZED', 'no credentials to check.', { status: 401 });
    let authorization: string;
    if (mode.kind === 'bearer') {
      const token = await bearerToken({ challenge: mode.challenge, scopes: [], credentials: creds, registry: this.opts.registry, insecure: this.endpoint.insecure, fresh: true });
      authorization = `Bearer ${token}`;
    } else {
      authorization = basicHeader(creds);
    }
    let res: HttpResponse;
    try {
      res = await send(new URL('/v2/', this.base), { headers: { authorization, 'user-agent': this.opts.userAgent }, insecureTls: this.endpoint.insecure });
    } catch (err) {
      throw this.netError(err);
    }
    discard(res);
    if (res.status === 200) return true;
    throw errorFromResponse(res.status, undefined, { registry: this.opts.registry, what: 'your credentials', kind: 'token' });
  }

  /** The Authorization header for this repository, or undefined for anonymous access. */
  private async authorization(fresh = false, challenge?: ReturnType<typeof parseChallenges>[number]): Promise<string | undefined> {
    const mode = this.mode;
    if (!mode || mode.kind === 'none') {
      if (!challenge) return undefined;
    }
    if (challenge?.scheme === 'basic' || (!challenge && mode?.kind === 'basic')) {
      const c = await this.credentials();
      if (!c) {
        throw new RegistryError('UNAUTHORIZED', `the registry ${this.opts.registry} requires a login to ${this.opts.push ? 'push to' : 'pull'} ${this.opts.registry}/${this.opts.repository}.`, {
          hint: `Log in with \`flux login ${this.endpoint.authHost}\`.`,
          status: 401,
        });
      }
      return basicHeader(c);
    }
    const ch = challenge ?? (mode?.kind === 'bearer' ? mode.challenge : undefined);
    if (!ch) return undefined;
    const scopes = [...this.scopes];
    const asked = ch.params.scope;
    if (asked && !scopes.includes(asked)) scopes.push(...asked.split(' ').filter((s) => s !== '' && !scopes.includes(s)));
    const token = await bearerToken({
      challenge: ch,
      scopes,
      credentials: await this.credentials(),
      registry: this.opts.registry,
      insecure: this.endpoint.insecure,
      retry: this.retryPolicy('token'),
      fresh,
    });
    return `Bearer ${token}`;
  }

  /**
   * GET on the registry with auth; on 401 takes the response's own challenge and tries once more
   * with a fresh token. Retries 429/5xx/resets. Redirects are returned, not followed.
   */
  private get(path: string, headers: Record<string, string>, ctx: { what: string; kind: 'manifest' | 'blob' }): Promise<HttpResponse> {
    return this.request('GET', path, headers, ctx);
  }

  /**
   * A request to the registry (a path, or an upload URL it handed out) with auth, as `get`;
   * `body` makes a fresh body for each try (a POST or PUT without one sends an empty body:
   * got's stream would otherwise wait to be written to). A status of 400 or more is thrown as one sentence.
   */
  async request(method: 'GET' | 'HEAD' | 'POST' | 'PUT', path: string | URL, headers: Record<string, string>, ctx: { what: string; kind: 'manifest' | 'blob' }, body?: () => Buffer | Readable): Promise<HttpResponse> {
    if (!this.base) {
      // A first GET or HEAD finds the scheme and the auth itself; a POST or PUT, or a request
      // while another one of this process is finding them, goes through ping.
      if ((method === 'GET' || method === 'HEAD') && typeof path === 'string' && !pings.has(this.pingKey)) return this.probe(method, path, headers, ctx);
      await this.ping();
    }
    return this.attempt(this.base!, method, path, headers, ctx, body, this.retryPolicy(ctx.what));
  }

  /**
   * The first request to the registry, which also finds what `/v2/` used to be asked for first
   * (one round trip less): the scheme, tried in pingSchemes' order with the same rules (a probe
   * that may fall through is not retried; only a failure that says the server speaks the other
   * protocol falls through), and the auth, from the 401 the distribution spec answers a request
   * without credentials with (its WWW-Authenticate challenge). What it found is shared as a
   * ping's would be.
   */
  private async probe(method: 'GET' | 'HEAD', path: string, headers: Record<string, string>, ctx: { what: string; kind: 'manifest' | 'blob' }): Promise<HttpResponse> {
    const key = this.pingKey;
    let settle: (r: PingResult | undefined) => void = () => undefined;
    const found = new Promise<PingResult | undefined>((resolve) => (settle = resolve));
    pings.set(key, found);
    const schemes = pingSchemes(this.endpoint);
    let firstErr: unknown;
    try {
      for (const [n, scheme] of schemes.entries()) {
        const base = new URL(`${scheme}//${this.endpoint.host}/`);
        const last = n === schemes.length - 1;
        const onResponse = (res: HttpResponse): void => {
          // The 400 a TLS server answers a plain request with says nothing of the scheme.
          if (this.base || (scheme === 'http:' && res.status === 400)) return;
          const mode: AuthMode = res.status === 401 ? authModeFrom(parseChallenges(res.headers['www-authenticate']), this.opts.registry) : { kind: 'none' };
          this.base = base;
          this.mode = mode;
          settle({ base, mode });
        };
        const policy = this.retryPolicy(ctx.what);
        // Until the server has answered in this scheme, a probe that may fall through is tried once.
        const known = (): boolean => this.base !== undefined;
        const probing: RetryPolicy = last ? policy : { ...policy, get tries() { return known() ? undefined : 1; } };
        try {
          return await this.attempt(base, method, path, headers, ctx, undefined, probing, onResponse);
        } catch (err) {
          if (this.base) throw err;
          // Both failed: the first probe's error says more when the second only failed for speaking the wrong protocol.
          if (last) throw firstErr !== undefined && wrongScheme(err, scheme === 'http:' ? 'https:' : 'http:') ? firstErr : err;
          if (!wrongScheme(err, scheme)) throw err;
          firstErr = err;
        }
      }
      throw new Error('unreachable');
    } finally {
      if (!this.base) {
        if (pings.get(key) === found) pings.delete(key);
        settle(undefined);
      }
    }
  }

  /** One request with auth and retries against `base` (see request); `onResponse` sees each response first. */
  private attempt(base: URL, method: 'GET' | 'HEAD' | 'POST' | 'PUT', path: string | URL, headers: Record<string, string>, ctx: { what: string; kind: 'manifest' | 'blob' }, body: (() => Buffer | Readable) | undefined, policy: RetryPolicy, onResponse?: (res: HttpResponse) => void): Promise<HttpResponse> {
    const url = new URL(path, base);
    // Upload URLs come from the registry's Location header and may name other storage: that gets
    // no credentials (as a redirected blob download), only what the URL itself carries.
    const sameOrigin = url.origin === base.origin;
    return withRetry(async () => {
      let auth = sameOrigin ? await this.authorization() : undefined;
      for (let attempt = 0; ; attempt++) {
        let res: HttpResponse;
        if (onResponse) lap(`pull: asking ${url.href}`);
        try {
          res = await send(url, { method, headers: { ...headers, authorization: auth, 'user-agent': this.opts.userAgent }, insecureTls: sameOrigin ? this.endpoint.insecure : isLoopbackHost(url.host), ...(body ? { body: body() } : method === 'POST' || method === 'PUT' ? { body: Buffer.alloc(0) } : {}) });
        } catch (err) {
          throw this.netError(err);
        }
        try {
          onResponse?.(res);
        } catch (err) {
          discard(res);
          throw err;
        }
        if (res.status === 401 && attempt === 0 && sameOrigin) {
          const challenges = parseChallenges(res.headers['www-authenticate']);
          discard(res);
          const ch = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
          if (ch) {
            auth = await this.authorization(true, ch);
            continue;
          }
        }
        if (res.status >= 400 && !(method === 'HEAD' && res.status === 404)) {
          const errBody = await readBody(res, 64 * 1024, () => new Error('too large')).catch(() => undefined);
          const err = errorFromResponse(res.status, errBody, { registry: this.opts.registry, ...ctx });
          throw Object.assign(err, { retryAfterMs: parseRetryAfter(res.headers['retry-after']) });
        }
        return res;
      }
    }, policy);
  }

  private refName(ref: string): string {
    return `${this.opts.registry}/${this.opts.repository}${isDigest(ref) ? '@' : ':'}${ref}`;
  }

  /** The manifest a tag or digest names: exact bytes, media type, and their verified digest. */
  async getManifest(ref: string): Promise<RawManifest> {
    if (!isDigest(ref) && !TAG_RE.test(ref)) assertDigest(ref, 'manifest reference');
    const what = this.refName(ref);
    const res = await this.get(`/v2/${this.opts.repository}/manifests/${ref}`, { accept: MANIFEST_ACCEPT }, { what, kind: 'manifest' });
    if (res.status !== 200) {
      discard(res);
      throw new RegistryError(`HTTP_${res.status}`, `the registry ${this.opts.registry} answered HTTP ${res.status} for the manifest of ${what}.`, { hint: 'Contact the registry operator: the registry is misconfigured.', status: res.status });
    }
    const bytes = await readBody(res, MANIFEST_MAX_BYTES, (size) => new FluxError('MANIFEST_TOO_LARGE', `the manifest of ${what} is ${size} bytes or more, over the ${MANIFEST_MAX_BYTES}-byte limit.`, {
      hint: 'Do not use this registry for it: no real image needs a manifest that large, so the registry is broken or hostile.',
      exitCode: 125,
    })).catch((err: unknown) => { throw err instanceof FluxError ? err : this.netError(err); });
    const digest = sha256Digest(bytes);
    if (isDigest(ref) && digest !== ref) throw new DigestMismatchError('manifest', ref, digest, this.endpoint.host);
    const mediaType = baseMediaType(res.headers['content-type']);
    const raw: RawManifest = { bytes, mediaType, digest };
    // Refuse a hostile manifest here already, before any of its digests is used.
    const parsed = parseManifest(raw, { source: what });
    if (mediaType === '' || mediaType === 'application/json') raw.mediaType = parsed.mediaType;
    return raw;
  }

  /**
   * The blob's bytes from `offset` on. Redirects are followed by hand so that `Authorization`
   * only ever goes to the registry's own origin. At most `desc.size - offset` bytes are passed on.
   */
  async openBlob(desc: Descriptor, offset = 0): Promise<BlobStream> {
    const digest: Digest = assertDigest(desc.digest, 'blob digest');
    if (!Number.isSafeInteger(desc.size) || desc.size < 0) throw new FluxError('BAD_MANIFEST', `the size of blob ${digest} is invalid.`, { exitCode: 125 });
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > desc.size) throw new RangeError(`offset ${offset} outside blob of ${desc.size} bytes`);
    const what = `blob ${digest}`;
    const headers: Record<string, string> = {};
    if (offset > 0) headers.range = `bytes=${offset}-`;
    let res = await this.get(`/v2/${this.opts.repository}/blobs/${digest}`, headers, { what, kind: 'blob' });
    const origin = res.url.origin;
    for (let hops = 0; res.status >= 300 && res.status < 400; hops++) {
      const location = res.headers.location;
      discard(res);
      if (!location || hops >= MAX_REDIRECTS) {
        throw new RegistryError('BAD_REDIRECT', `the registry ${this.opts.registry} sent ${location ? 'too many redirects' : 'a redirect without a target'} for ${what}.`, { hint: 'Contact the registry operator: the registry is misconfigured.' });
      }
      const next = new URL(location, res.url);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        throw new RegistryError('BAD_REDIRECT', `the registry ${this.opts.registry} redirected ${what} to a ${next.protocol} URL.`, { hint: 'Contact the registry operator: the registry is misconfigured or hostile.' });
      }
      if (res.url.protocol === 'https:' && next.protocol === 'http:' && !isLoopbackHost(next.host) && !this.endpoint.insecure) {
        throw new RegistryError('BAD_REDIRECT', `the registry ${this.opts.registry} redirected ${what} from HTTPS to plain HTTP at ${next.host}.`, { hint: 'Contact the registry operator: a download over plain HTTP could be altered on the way, so it is refused.' });
      }
      const sameOrigin = next.origin === origin;
      const hopHeaders: Record<string, string> = { ...headers };
      // Storage behind a redirect gets no registry credentials: only a signed URL.
      if (sameOrigin) {
        const auth = await this.authorization();
        if (auth) hopHeaders.authorization = auth;
      }
      res = await withRetry(async () => {
        let r: HttpResponse;
        try {
          r = await send(next, { headers: { ...hopHeaders, 'user-agent': this.opts.userAgent }, insecureTls: sameOrigin ? this.endpoint.insecure : isLoopbackHost(next.host) });
        } catch (err) {
          throw errorFromNetwork(err, { registry: this.opts.registry, host: next.host });
        }
        if (r.status >= 400) {
          const body = await readBody(r, 64 * 1024, () => new Error('too large')).catch(() => undefined);
          throw Object.assign(errorFromResponse(r.status, body, { registry: this.opts.registry, what, kind: 'blob' }), { retryAfterMs: parseRetryAfter(r.headers['retry-after']) });
        }
        return r;
      }, this.retryPolicy(what));
    }
    let skip = 0;
    let rangeHonoured = offset === 0;
    if (res.status === 206) {
      const m = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
      if (!m || Number(m[1]) !== offset) {
        discard(res);
        throw new RegistryError('BAD_RANGE', `the registry ${this.opts.registry} answered a resumed download of ${what} with the wrong range.`, { hint: 'Retry the pull; it restarts the download.', retryable: false });
      }
      rangeHonoured = true;
    } else if (res.status === 200) {
      skip = offset;
    } else {
      discard(res);
      throw new RegistryError(`HTTP_${res.status}`, `the registry ${this.opts.registry} answered HTTP ${res.status} for ${what}.`, { hint: 'Contact the registry operator: the registry is misconfigured.', status: res.status });
    }
    return limitBlob(res, desc.size - offset, skip, { what, registry: this.opts.registry, host: res.url.host }, offset, rangeHonoured);
  }
}
