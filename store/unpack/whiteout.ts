/** OCI whiteout names (image-spec layer.md). Pure. */
export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';

export type WhiteoutKind =
  | { kind: 'none' }
  | { kind: 'opaque' }
  /** `.wh.NAME`: hide NAME of the lower layers. */
  | { kind: 'whiteout'; target: string }
  /** `.wh..wh.*` other than the opaque marker: aufs bookkeeping (`.wh..wh.plnk`), ignored as docker does. */
  | { kind: 'aufs-meta' }
  | { kind: 'invalid'; reason: string };

export function parseWhiteout(basename: string): WhiteoutKind {
  if (!basename.startsWith(WHITEOUT_PREFIX)) return { kind: 'none' };
  if (basename === OPAQUE_WHITEOUT) return { kind: 'opaque' };
  if (basename.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return { kind: 'aufs-meta' };
  const target = basename.slice(WHITEOUT_PREFIX.length);
  if (target === '') return { kind: 'invalid', reason: 'a bare ".wh." whiteout names nothing' };
  if (target === '.' || target === '..') return { kind: 'invalid', reason: `a whiteout of "${target}" is not allowed` };
  return { kind: 'whiteout', target };
}
