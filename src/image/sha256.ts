/** Hashing lives apart from the digest checks, so the run path can check digests without loading node:crypto. */
import { createHash } from 'node:crypto';
import type { Digest } from './types.js';

export function sha256Digest(buf: Buffer | Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(buf).digest('hex')}`;
}
