/** The store names files after digests, so it checks them itself rather than trusting callers. */
import { FluxError } from '../src/errors.js';
import type { Digest } from '../src/image/types.js';

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** Exactly `sha256:` + 64 lowercase hex. */
export function isDigest(d: string): d is Digest {
  return DIGEST_RE.test(d);
}

export function checkDigest(d: string, what = 'digest'): Digest {
  if (isDigest(d)) return d;
  throw new FluxError('BAD_DIGEST', `The ${what} ${JSON.stringify(d.slice(0, 80))} is not a valid sha256 digest.`, {
    hint: 'A digest must be "sha256:" followed by 64 lowercase hex digits.',
  });
}

export function hexOf(d: Digest): string {
  return checkDigest(d).slice(7);
}

/** `sha256:0123456789ab…` for messages. */
export function shortDigest(d: string): string {
  return d.length > 19 ? `${d.slice(0, 19)}…` : d;
}
