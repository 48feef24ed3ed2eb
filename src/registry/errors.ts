/**
 * Registry failures as one sentence and a hint each. The registry's own error code
 * (MANIFEST_UNKNOWN, UNAUTHORIZED, TOOMANYREQUESTS…) is kept as the FluxError code.
 */
import { FluxError, errnoCode } from '../errors.js';
import type { Digest } from '../image/types.js';

/** Registry errors share podman's exit status for failures of the tool itself. */
export const REGISTRY_EXIT = 125;

export class RegistryError extends FluxError {
  readonly status: number | undefined;
  readonly retryable: boolean;

  constructor(code: string, message: string, opts: { hint?: string; status?: number; retryable?: boolean; cause?: unknown } = {}) {
    super(code, message, { hint: opts.hint, exitCode: REGISTRY_EXIT, cause: opts.cause });
    this.name = 'RegistryError';
    this.status = opts.status;
    this.retryable = opts.retryable ?? false;
  }
}

export class DigestMismatchError extends FluxError {
  readonly expected: Digest;
  readonly actual: Digest;

  constructor(what: string, expected: Digest, actual: Digest, source: string) {
    super('DIGEST_MISMATCH', `the ${what} from ${source} does not match its digest: expected ${expected}, got ${actual}.`, {
      hint: 'Retry, or use another registry or mirror: the registry or something between it and you altered the content; nothing was stored.',
      exitCode: REGISTRY_EXIT,
    });
    this.name = 'DigestMismatchError';
    this.expected = expected;
    this.actual = actual;
  }
}

/** The `errors` array of a distribution-spec error body, if the body is one. */
export function registryErrorCodes(body: Buffer | string | undefined): { code: string; message?: string }[] {
  if (body === undefined || body.length === 0) return [];
  try {
    const json = JSON.parse(body.toString()) as { errors?: unknown };
    if (!Array.isArray(json.errors)) return [];
    return json.errors
      .filter((e): e is { code: string; message?: unknown } => typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string')
      .map((e) => (typeof e.message === 'string' ? { code: e.code, message: e.message } : { code: e.code }));
  } catch {
    return [];
  }
}

export interface ErrorContext {
  /** Registry name as the user knows it, e.g. `docker.io`. */
  registry: string;
  /** What was asked for, e.g. `docker.io/library/alpine:3.20` or `blob sha256:…`. */
  what: string;
  /** `manifest` or `blob`: a 404 on one means no such image, on the other a broken registry. */
  kind: 'manifest' | 'blob' | 'ping' | 'token';
}

const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

export function isRetryableStatus(status: number): boolean {
  return RETRY_STATUSES.has(status);
}

/** Maps an HTTP error response to one sentence and a hint. */
export function errorFromResponse(status: number, body: Buffer | undefined, ctx: ErrorContext): RegistryError {
  const codes = registryErrorCodes(body);
  const first = codes[0]?.code;
  const code = first ?? (status === 401 ? 'UNAUTHORIZED' : status === 403 ? 'DENIED' : status === 404 ? 'NOT_FOUND' : status === 429 ? 'TOOMANYREQUESTS' : `HTTP_${status}`);
  const login = `flux login ${ctx.registry}`;
  const opts = { status, retryable: isRetryableStatus(status) };
  if (status === 429 || code === 'TOOMANYREQUESTS') {
    return new RegistryError('TOOMANYREQUESTS', `the registry ${ctx.registry} is rate-limiting requests (HTTP 429).`, {
      ...opts,
      hint: `Wait a while and retry, log in for a higher limit (\`${login}\`), or configure a mirror in ~/.config/flux/registries.json.`,
    });
  }
  if (status === 401 || code === 'UNAUTHORIZED') {
    return new RegistryError('UNAUTHORIZED', ctx.kind === 'token'
      ? `the registry ${ctx.registry} refused the credentials.`
      : `the registry ${ctx.registry} requires authentication for ${ctx.what}.`, {
      ...opts,
      hint: ctx.kind === 'token'
        ? `Log in again with \`${login}\`.`
        : `Log in with \`${login}\`; registries also answer this way for repositories that do not exist, so check the name.`,
    });
  }
  if (status === 403 || code === 'DENIED') {
    return new RegistryError('DENIED', `the registry ${ctx.registry} denied access to ${ctx.what}.`, {
      ...opts,
      hint: `Check the name, and that your account may pull it (\`${login}\` with another user).`,
    });
  }
  if (status === 404 || code === 'MANIFEST_UNKNOWN' || code === 'NAME_UNKNOWN' || code === 'BLOB_UNKNOWN') {
    if (ctx.kind === 'blob') {
      return new RegistryError(first ?? 'BLOB_UNKNOWN', `the registry ${ctx.registry} does not have ${ctx.what}, which the image's manifest lists.`, {
        ...opts,
        hint: 'The image is incomplete on the registry; ask its publisher to push it again.',
      });
    }
    if (ctx.kind === 'ping') {
      return new RegistryError('NOT_A_REGISTRY', `${ctx.registry} does not answer as a container registry (no /v2/ API).`, {
        ...opts,
        hint: 'Check the registry host name and port.',
      });
    }
    const noRepo = code === 'NAME_UNKNOWN';
    return new RegistryError(noRepo ? 'NAME_UNKNOWN' : code === 'NOT_FOUND' ? 'MANIFEST_UNKNOWN' : code, noRepo
      ? `the repository of ${ctx.what} does not exist on ${ctx.registry}.`
      : `the image ${ctx.what} was not found on ${ctx.registry}: no such tag or digest.`, {
      ...opts,
      hint: 'Check the image name and tag.',
    });
  }
  const detail = codes[0]?.message ? `: ${codes[0].message}` : '';
  return new RegistryError(first ?? `HTTP_${status}`, `the registry ${ctx.registry} answered HTTP ${status} for ${ctx.what}${detail}.`, {
    ...opts,
    hint: status >= 500 ? 'The registry is having trouble; try again later.' : 'The request was refused; check the image name.',
  });
}

const TLS_CODES = /^(ERR_TLS|ERR_SSL|EPROTO|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT|ERR_OSSL)/;

export function isTlsError(err: unknown): boolean {
  const code = errnoCode(err) ?? '';
  return TLS_CODES.test(code) || /SSL|TLS|certificate/i.test((err as Error)?.message ?? '');
}

const RETRY_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ESOCKETTIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE']);

export function isRetryableNetworkError(err: unknown): boolean {
  const code = errnoCode(err);
  return (code !== undefined && RETRY_CODES.has(code)) || (err as Error)?.name === 'TimeoutError' || (err instanceof RegistryError && err.retryable);
}

/** Maps a connection-level failure (DNS, refused, timeout, TLS) to one sentence and a hint. */
export function errorFromNetwork(err: unknown, ctx: { registry: string; host: string }): RegistryError {
  if (err instanceof FluxError) return err as RegistryError;
  const code = errnoCode(err) ?? '';
  const offline = 'Check your network connection, or use --pull=never to run the cached image.';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') {
    return new RegistryError('NETWORK', `cannot resolve the registry host ${ctx.host}.`, { hint: offline, retryable: code === 'EAI_AGAIN', cause: err });
  }
  if (code === 'ECONNREFUSED') {
    return new RegistryError('NETWORK', `cannot connect to the registry ${ctx.host}: connection refused.`, { hint: `Check that the registry is running at ${ctx.host}; ${offline.charAt(0).toLowerCase()}${offline.slice(1)}`, cause: err });
  }
  if (code === 'ENETUNREACH' || code === 'EHOSTUNREACH' || code === 'ENETDOWN') {
    return new RegistryError('NETWORK', `cannot reach the registry ${ctx.host}: the network is unreachable.`, { hint: offline, cause: err });
  }
  if (code === 'ETIMEDOUT' || (err as Error)?.name === 'TimeoutError') {
    return new RegistryError('NETWORK', `the connection to the registry ${ctx.host} timed out.`, { hint: offline, retryable: true, cause: err });
  }
  if (isTlsError(err)) {
    return new RegistryError('TLS', `the TLS connection to ${ctx.host} failed: ${(err as Error).message}.`, {
      hint: `If ${ctx.registry} uses a private CA, set NODE_EXTRA_CA_CERTS to its certificate; use --insecure only for a registry you trust.`,
      cause: err,
    });
  }
  return new RegistryError('NETWORK', `the connection to the registry ${ctx.host} failed: ${(err as Error)?.message ?? String(err)}.`, {
    hint: offline,
    retryable: RETRY_CODES.has(code),
    cause: err,
  });
}
