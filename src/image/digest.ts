/**
 * Digests are the only names flux ever turns into file names or URL paths, so they are checked
 * first. Pure. The one digest module: the store, registry, sources and layers all use these checks.
 */
import { FluxError } from '../errors.js';
import type { Digest } from './types.js';

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** Exactly `sha256:` + 64 lowercase hex: no other algorithm, no uppercase, no `..` (CVE-2024-3727). */
export function isDigest(s: unknown): s is Digest {
  return typeof s === 'string' && DIGEST_RE.test(s);
}

/** Returns `s` as a Digest or throws a FluxError naming `what` (e.g. "layer digest in the manifest"). */
export function assertDigest(s: unknown, what: string): Digest {
  if (isDigest(s)) return s;
  const shown = typeof s === 'string' ? JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s) : String(s);
  throw new FluxError('BAD_DIGEST', `the ${what} ${shown} is not a valid sha256 digest.`, {
    hint: 'Do not use this image source: a digest must be "sha256:" followed by 64 lowercase hex digits, so it is broken or hostile.',
  });
}

/** The 64 hex digits of a digest. */
export function digestHex(d: Digest): string {
  return d.slice('sha256:'.length);
}

/** `sha256:0123456789ab…` for messages. */
export function shortDigest(d: string): string {
  return d.length > 19 ? `${d.slice(0, 19)}…` : d;
}
