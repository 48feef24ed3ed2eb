/**
 * How a registry host is spoken to: which scheme (HTTPS, or plain HTTP where allowed) and which
 * auth, learned once per host and process, through `/v2/` (ping) or through the first request
 * itself (probe), and shared by every client of that host.
 */
import { FluxError, errnoCode } from '../errors.js';
import { authModeFrom, type AuthMode } from './auth.js';
import { parseChallenges } from './challenge.js';
import { isLoopbackHost, type Endpoint } from './config.js';
import { RegistryError, errorFromNetwork, errorFromResponse, isRetryableStatus, isTlsError } from './errors.js';
import { discard, parseRetryAfter, send, withRetry, type HttpResponse, type RetryPolicy } from './http.js';
import { lap } from '../timing.js';

export interface PingResult {
  base: URL;
  mode: AuthMode;
}

/** What finding the scheme needs of a client: the host, whom to name in errors, and how to retry. */
export interface ProbeContext {
  endpoint: Pick<Endpoint, 'host' | 'insecure'>;
  /** Registry name as the user wrote it, for messages. */
  registry: string;
  userAgent: string | undefined;
  retryPolicy: (what: string) => RetryPolicy;
}

/**
 * What each host said about its scheme and auth, shared by every image pulled from it in this
 * process: through `/v2/` (ping), or through the first request itself (see probe). Undefined: a
 * probe ended before the scheme was known; the waiter then asks `/v2/` itself.
 */
const pings = new Map<string, Promise<PingResult | undefined>>();

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

function pingKey(ctx: ProbeContext): string {
  return `${ctx.endpoint.host}|${ctx.endpoint.insecure}|${ctx.userAgent ?? ''}`;
}

/** Whether this host's scheme is known or being found (by a ping or a probe) in this process. */
export function schemeAsked(ctx: ProbeContext): boolean {
  return pings.has(pingKey(ctx));
}

/**
 * What this host's `/v2/` said, asked once for every client of it in this process; undefined
 * when it was a probe that ended before it knew the scheme (ask again: its key is free then).
 */
export function sharedPing(ctx: ProbeContext): Promise<PingResult | undefined> {
  const key = pingKey(ctx);
  let p = pings.get(key);
  if (!p) {
    const ping = askV2(ctx);
    pings.set(key, ping);
    ping.catch(() => { if (pings.get(key) === ping) pings.delete(key); });
    p = ping;
  }
  return p;
}

/**
 * `GET /v2/`: finds the scheme (HTTPS; plain HTTP only for insecure endpoints, as docker does)
 * and how the registry wants us to authenticate.
 */
async function askV2(ctx: ProbeContext): Promise<PingResult> {
  const { endpoint, registry } = ctx;
  const schemes = pingSchemes(endpoint);
  let firstErr: unknown;
  for (const [n, scheme] of schemes.entries()) {
    const base = new URL(`${scheme}//${endpoint.host}/`);
    // A probe that may fall through to the other scheme is not worth retries: a server of the
    // other kind answers it the same way every time.
    const policy = n < schemes.length - 1 ? { tries: 1 } : ctx.retryPolicy(`${endpoint.host}/v2/`);
    try {
      const res = await withRetry(async () => {
        let r: HttpResponse;
        lap(`pull: asking ${base.protocol}//${endpoint.host}/v2/`);
        try {
          r = await send(new URL('/v2/', base), { headers: { 'user-agent': ctx.userAgent }, insecureTls: endpoint.insecure });
        } catch (err) {
          throw errorFromNetwork(err, { registry, host: endpoint.host });
        }
        if (isRetryableStatus(r.status)) {
          discard(r);
          throw Object.assign(errorFromResponse(r.status, undefined, { registry, what: '/v2/', kind: 'ping' }), { retryAfterMs: parseRetryAfter(r.headers['retry-after']) });
        }
        return r;
      }, policy);
      discard(res);
      let mode: AuthMode;
      if (res.status === 200) mode = { kind: 'none' };
      else if (res.status === 401) mode = authModeFrom(parseChallenges(res.headers['www-authenticate']), registry);
      else throw errorFromResponse(res.status, undefined, { registry, what: '/v2/', kind: 'ping' });
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
 * The first request to the registry, which also finds what `/v2/` used to be asked for first
 * (one round trip less): the scheme, tried in pingSchemes' order with the same rules (a probe
 * that may fall through is not retried; only a failure that says the server speaks the other
 * protocol falls through), and the auth, from the 401 the distribution spec answers a request
 * without credentials with (its WWW-Authenticate challenge). What it found is shared as a
 * ping's would be.
 *
 * `attempt` sends the request against a base with the given retry policy, showing each response
 * to `onResponse` first; `learned` hears the scheme and auth as soon as the first response says
 * them, before the request goes on (a retry or the 401's token already uses them).
 */
export async function probe(
  ctx: ProbeContext,
  what: string,
  attempt: (base: URL, policy: RetryPolicy, onResponse: (res: HttpResponse) => void) => Promise<HttpResponse>,
  learned: (found: PingResult) => void,
): Promise<HttpResponse> {
  const key = pingKey(ctx);
  let settle: (r: PingResult | undefined) => void = () => undefined;
  const found = new Promise<PingResult | undefined>((resolve) => (settle = resolve));
  pings.set(key, found);
  const schemes = pingSchemes(ctx.endpoint);
  let known: PingResult | undefined;
  let firstErr: unknown;
  try {
    for (const [n, scheme] of schemes.entries()) {
      const base = new URL(`${scheme}//${ctx.endpoint.host}/`);
      const last = n === schemes.length - 1;
      const onResponse = (res: HttpResponse): void => {
        // The 400 a TLS server answers a plain request with says nothing of the scheme.
        if (known || (scheme === 'http:' && res.status === 400)) return;
        const mode: AuthMode = res.status === 401 ? authModeFrom(parseChallenges(res.headers['www-authenticate']), ctx.registry) : { kind: 'none' };
        known = { base, mode };
        learned({ base, mode });
        settle({ base, mode });
      };
      const policy = ctx.retryPolicy(what);
      // Until the server has answered in this scheme, a probe that may fall through is tried once.
      const probing: RetryPolicy = last ? policy : { ...policy, get tries() { return known ? undefined : 1; } };
      try {
        return await attempt(base, probing, onResponse);
      } catch (err) {
        if (known) throw err;
        // Both failed: the first probe's error says more when the second only failed for speaking the wrong protocol.
        if (last) throw firstErr !== undefined && wrongScheme(err, scheme === 'http:' ? 'https:' : 'http:') ? firstErr : err;
        if (!wrongScheme(err, scheme)) throw err;
        firstErr = err;
      }
    }
    throw new Error('unreachable');
  } finally {
    if (!known) {
      if (pings.get(key) === found) pings.delete(key);
      settle(undefined);
    }
  }
}
