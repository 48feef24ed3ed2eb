/**
 * Token auth (distribution token spec): a `WWW-Authenticate: Bearer` challenge names a realm,
 * service and scope; a GET on the realm (with basic credentials when we have them) buys a
 * token, cached per scope until it expires. Basic challenges use the credentials directly.
 */
import { FluxError } from '../errors.js';
import type { Challenge } from './challenge.js';
import type { Credentials } from './credentials.js';
import { errorFromNetwork, errorFromResponse, RegistryError } from './errors.js';
import { isLoopbackHost } from './config.js';
import { readBody, send, withRetry, type RetryPolicy } from './http.js';

/** Tokens without `expires_in` live 60 s (token spec); renew a little early. */
const DEFAULT_EXPIRY_S = 60;
const EARLY_S = 10;
const TOKEN_MAX_BYTES = 1024 * 1024;

interface CachedToken {
  token: string;
  expiresAt: number;
}

const tokens = new Map<string, Promise<CachedToken>>();

export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

export interface TokenRequest {
  challenge: Challenge;
  /** Scopes to ask for, e.g. `repository:library/alpine:pull`; none for a login check. */
  scopes: string[];
  credentials: Credentials | undefined;
  /** Registry name for messages. */
  registry: string;
  /** The registry may be spoken to without verified TLS; so may its realm then. */
  insecure: boolean;
  retry?: RetryPolicy;
  /** Skip the cache (after the registry refused a cached token). */
  fresh?: boolean;
}

function cacheKey(r: TokenRequest): string {
  return JSON.stringify([r.challenge.params.realm, r.challenge.params.service, [...r.scopes].sort(), r.credentials?.username ?? '', r.credentials?.password ?? '']);
}

/** A bearer token for the challenge and scopes, from the cache while it is valid. */
export async function bearerToken(r: TokenRequest): Promise<string> {
  const key = cacheKey(r);
  const hit = r.fresh ? undefined : tokens.get(key);
  if (hit) {
    try {
      const t = await hit;
      if (t.expiresAt > Date.now()) return t.token;
    } catch {
      // A failed fetch is not cached; ask again below.
    }
  }
  const p = fetchToken(r);
  tokens.set(key, p);
  p.catch(() => { if (tokens.get(key) === p) tokens.delete(key); });
  return (await p).token;
}

/** For tests and `flux login`: forget every cached token. */
export function clearTokenCache(): void {
  tokens.clear();
}

async function fetchToken(r: TokenRequest): Promise<CachedToken> {
  const realmText = r.challenge.params.realm;
  let realm: URL;
  try {
    if (!realmText) throw new Error('no realm');
    realm = new URL(realmText);
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') throw new Error('not http');
  } catch {
    throw new RegistryError('BAD_CHALLENGE', `the registry ${r.registry} sent an authentication challenge without a usable token URL.`, { hint: 'Contact the registry operator: the registry is misconfigured.' });
  }
  const realmLoopback = isLoopbackHost(realm.host);
  if (realm.protocol === 'http:' && !realmLoopback && !r.insecure) {
    throw new RegistryError('INSECURE_REALM', `the registry ${r.registry} asks for tokens over plain HTTP at ${realm.origin}.`, {
      hint: `Use --insecure or list ${r.registry} under "insecure" in ~/.config/flux/registries.json if you trust this network.`,
    });
  }
  if (r.challenge.params.service) realm.searchParams.set('service', r.challenge.params.service);
  if (r.credentials) realm.searchParams.set('account', r.credentials.username);
  for (const s of r.scopes) realm.searchParams.append('scope', s);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (r.credentials) headers.authorization = basicHeader(r.credentials);
  const started = Date.now();
  const body = await withRetry(async () => {
    let res;
    try {
      res = await send(realm, { headers, insecureTls: r.insecure || realmLoopback });
    } catch (err) {
      throw errorFromNetwork(err, { registry: r.registry, host: realm.host });
    }
    if (res.status !== 200) {
      const errBody = await readBody(res, 64 * 1024, () => new Error('too large')).catch(() => undefined);
      throw errorFromResponse(res.status, errBody, { registry: r.registry, what: 'a token', kind: 'token' });
    }
    return readBody(res, TOKEN_MAX_BYTES, () => new RegistryError('BAD_TOKEN', `the token server of ${r.registry} sent an oversized answer.`, { hint: 'Contact the registry operator: the registry is misconfigured.' }));
  }, r.retry);
  let json: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
  try {
    json = JSON.parse(body.toString('utf8')) as typeof json;
  } catch {
    throw new RegistryError('BAD_TOKEN', `the token server of ${r.registry} did not answer with JSON.`, { hint: 'Contact the registry operator: the registry is misconfigured.' });
  }
  const token = typeof json.token === 'string' && json.token !== '' ? json.token : typeof json.access_token === 'string' ? json.access_token : '';
  if (token === '' || /[\r\n]/.test(token)) {
    throw new RegistryError('BAD_TOKEN', `the token server of ${r.registry} answered without a token.`, { hint: 'Contact the registry operator: the registry is misconfigured.' });
  }
  const expiresIn = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : DEFAULT_EXPIRY_S;
  const issuedAt = typeof json.issued_at === 'string' && !Number.isNaN(Date.parse(json.issued_at)) ? Math.min(Date.parse(json.issued_at), Date.now()) : started;
  return { token, expiresAt: issuedAt + Math.max(1, expiresIn - EARLY_S) * 1000 };
}

/** What the registry's `/v2/` told us about how to authenticate. */
export type AuthMode = { kind: 'none' } | { kind: 'basic' } | { kind: 'bearer'; challenge: Challenge };

export function authModeFrom(challenges: Challenge[], registry: string): AuthMode {
  const bearer = challenges.find((c) => c.scheme === 'bearer');
  if (bearer) return { kind: 'bearer', challenge: bearer };
  if (challenges.some((c) => c.scheme === 'basic')) return { kind: 'basic' };
  throw new FluxError('BAD_CHALLENGE', `the registry ${registry} asks for an authentication scheme flux does not support.`, {
    hint: 'Use a registry with Bearer token or Basic authentication, the schemes flux supports.',
    exitCode: 125,
  });
}

