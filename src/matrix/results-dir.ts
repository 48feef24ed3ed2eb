/** `--results DIR`: DIR/<safe-image-name>/{stdout,stderr,exit-code}, one directory per image. */

/**
 * A directory name for an image that is safe on any filesystem and unique within the matrix:
 * characters outside [A-Za-z0-9._-] become `_`; when two images map to the same name, or a name
 * would be too long, a short hash of the full reference keeps them apart.
 */
export function safeNames(refs: readonly string[]): string[] {
  const base = refs.map((r) => {
    let s = r.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').replace(/_+$/, '');
    if (s === '') s = 'image';
    return s.length > 120 ? `${s.slice(0, 120)}-${shortHash(r)}` : s;
  });
  const count = new Map<string, number>();
  for (const b of base) count.set(b.toLowerCase(), (count.get(b.toLowerCase()) ?? 0) + 1);
  // Case-insensitive filesystems would merge names differing only in case: compare lowercased.
  return base.map((b, i) => ((count.get(b.toLowerCase()) ?? 0) > 1 ? `${b}-${shortHash(refs[i] ?? '')}` : b));
}

/**
 * FNV-1a, 32 bits: only tells a handful of names apart, nothing to secure, and spares every
 * matrix the load of node:crypto.
 */
function shortHash(s: string): string {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(s, 'utf8')) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}
