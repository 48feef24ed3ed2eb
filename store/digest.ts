/**
 * The store names files after digests, so it checks them itself rather than trusting callers,
 * with the checks of src/image/digest.ts (one implementation), under the store's names.
 */
import { assertDigest, digestHex, isDigest, shortDigest } from '../src/image/digest.js';
import type { Digest } from '../src/image/types.js';

export { isDigest, shortDigest };

export function checkDigest(d: string, what = 'digest'): Digest {
  return assertDigest(d, what);
}

export function hexOf(d: Digest): string {
  return digestHex(checkDigest(d));
}
