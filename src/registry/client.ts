/**
 * One registry endpoint (a host, maybe a mirror) and one repository: manifests and blobs, with
 * auth, retries and redirects; the scheme and the auth are found as scheme-probe.ts says. Every
 * digest is validated before it goes into a URL.
 */
import type { Readable } from 'node:stream';
import { FluxError } from '../errors.js';
import { assertDigest, isDigest } from '../image/digest.js';
import { sha256Digest } from '../image/sha256.js';
import { MANIFEST_ACCEPT, MANIFEST_MAX_BYTES, baseMediaType, parseManifest } from '../image/manifest.js';
import type { Descriptor, Digest, RawManifest } from '../image/types.js';
import { basicHeader, bearerToken, type AuthMode } from './auth.js';
import { limitBlob, type BlobStream } from './blob-stream.js';
import { parseChallenges } from './challenge.js';
import { isLoopbackHost, type Endpoint } from './config.js';
import type { Credentials } from './credentials.js';
import { DigestMismatchError, RegistryError, errorFromNetwork, errorFromResponse } from './errors.js';
import { discard, parseRetryAfter, readBody, send, withRetry, type HttpResponse, type RetryInfo, type RetryPolicy } from './http.js';
import { probe, schemeAsked, sharedPing, type ProbeContext } from './scheme-probe.js';
import { lap } from '../timing.js';

const TAG_RE = /^[\w][\w.-]{0,127}$/;

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

  /** Finds the scheme and the auth (see scheme-probe.ts), once per host in this process. */
  ping(): Promise<void> {
    if (this.base) return Promise.resolve();
    return sharedPing(this.probeContext).then((r) => {
      // A probe that ended before it knew the scheme: ask /v2/ (its key is free again).
      if (!r) return this.ping();
      this.base = r.base;
      this.mode = r.mode;
      return undefined;
    });
  }

  private get probeContext(): ProbeContext {
    return { endpoint: this.endpoint, registry: this.opts.registry, userAgent: this.opts.userAgent, retryPolicy: (what) => this.retryPolicy(what) };
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
      if ((method === 'GET' || method === 'HEAD') && typeof path === 'string' && !schemeAsked(this.probeContext)) {
        return probe(this.probeContext, ctx.what, (base, policy, onResponse) => this.attempt(base, method, path, headers, ctx, undefined, policy, onResponse), (found) => {
          this.base = found.base;
          this.mode = found.mode;
        });
      }
      await this.ping();
    }
    return this.attempt(this.base!, method, path, headers, ctx, body, this.retryPolicy(ctx.what));
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
