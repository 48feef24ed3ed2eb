/**
 * The one place flux talks HTTP, on got. Redirects, retries and auth are decided by the caller,
 * so every hop is visible: got only sends one request and hands back the response stream.
 */
import type { Request } from 'got';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { isRetryableNetworkError } from './errors.js';

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  url: URL;
  /** The body; read it, or destroy it. */
  body: Request;
}

export interface HttpRequestOptions {
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT';
  /** A request body (pushes): the bytes, or a stream of `content-length` bytes. */
  body?: Buffer | Readable;
  headers?: Record<string, string | undefined>;
  /** Accept any certificate: only for loopback and registries the user marked insecure. */
  insecureTls?: boolean;
}

/**
 * got is loaded lazily, so that only what talks HTTP loads it; in the bundle it sits in the pull
 * chunk with this module (scripts/bundle.mjs), its TLS parts loaded on first use. Loading starts
 * with this module, so it overlaps whatever a pull does first.
 */
const gotLoaded = import('got').then((m) => m.default);
gotLoaded.catch(() => undefined);

export const DEFAULT_USER_AGENT = `flux/${process.env.npm_package_version ?? '0.1.0'}`;

/** Sends one request and resolves once the response headers are in; never follows redirects, never throws on a status. */
export async function send(url: URL, opts: HttpRequestOptions = {}): Promise<HttpResponse> {
  const got = await gotLoaded;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
  headers['user-agent'] ??= DEFAULT_USER_AGENT;
  const body = got.stream(url, {
    method: opts.method ?? 'GET',
    headers,
    followRedirect: false,
    throwHttpErrors: false,
    decompress: false,
    retry: { limit: 0 },
    timeout: { lookup: 15_000, connect: 15_000, secureConnect: 15_000, response: 60_000, socket: 60_000 },
    https: { rejectUnauthorized: opts.insecureTls !== true },
    ...(opts.body !== undefined ? { body: opts.body } : {}),
  });
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    body.once('error', onError);
    body.once('response', (res: { statusCode: number; headers: IncomingHttpHeaders }) => {
      body.off('error', onError);
      resolve({ status: res.statusCode, headers: res.headers, url, body });
    });
  });
}

/** Reads a whole body, refusing more than `max` bytes (`onTooLarge` makes the error). */
export async function readBody(res: HttpResponse, max: number, onTooLarge: (size: number) => Error): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    res.body.destroy();
    throw onTooLarge(declared);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > max) {
      res.body.destroy();
      throw onTooLarge(total);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/** Drains and discards a body so the connection can be reused. */
export function discard(res: HttpResponse): void {
  res.body.resume();
  res.body.on('error', () => undefined);
}

export interface RetryInfo {
  attempt: number;
  delayMs: number;
  reason: string;
}

export interface RetryPolicy {
  tries?: number;
  baseDelayMs?: number;
  /** A Retry-After longer than this is not waited for; the error goes to the user instead. */
  maxDelayMs?: number;
  onRetry?: (info: RetryInfo) => void;
}

/** An error that says how long the server asked us to wait. */
export interface WithRetryAfter {
  retryAfterMs?: number;
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(v: string | string[] | undefined, now = Date.now()): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined || s.trim() === '') return undefined;
  if (/^\d+$/.test(s.trim())) return Number(s.trim()) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** Runs `fn` up to `tries` times, waiting baseDelay × 2^n (or the server's Retry-After) between tries. */
export async function withRetry<T>(fn: () => Promise<T>, policy: RetryPolicy = {}): Promise<T> {
  // Read at each failure: a registry's first request learns on the way whether it may retry (scheme-probe.ts, probe).
  const tries = (): number => policy.tries ?? 3;
  const base = policy.baseDelayMs ?? 200;
  const maxDelay = policy.maxDelayMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= tries() || !isRetryableNetworkError(err)) throw err;
      const asked = (err as WithRetryAfter).retryAfterMs;
      if (asked !== undefined && asked > maxDelay) throw err;
      const delayMs = asked ?? base * 2 ** (attempt - 1);
      policy.onRetry?.({ attempt, delayMs, reason: (err as Error).message });
      await sleep(delayMs);
    }
  }
}
