/**
 * Pure string checks on tar entry names, done before any I/O (node-tar does the same). A name is
 * read as if the layer directory were `/`:
 * - leading `/` and `./` are dropped (absolute names are contained, as GNU tar does);
 * - `.` and empty components are dropped; `..` is resolved lexically while it stays inside the
 *   layer (`a/../b` is `b`); a `..` that would rise above the layer's root is refused;
 * - NUL bytes are refused (the kernel would cut the name there).
 * Symlinks are never followed afterwards, so this lexical answer is also the one on disk.
 */
export type EntryPath = { ok: true; parts: string[] } | { ok: false; reason: string };

export function normalizeEntryPath(name: string): EntryPath {
  if (name.includes('\0')) return { ok: false, reason: 'contains a NUL byte' };
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return { ok: false, reason: 'climbs above the layer root with ".."' };
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return { ok: true, parts };
}

/** The entry name as shown in messages: printable and bounded. */
export function showName(name: string): string {
  const s = JSON.stringify(name);
  return s.length > 120 ? `${s.slice(0, 117)}…"` : s;
}
