/**
 * The last-resort rootfs: apply the image's unpacked layers, bottom first, onto one directory,
 * as overlayfs would show them. Runs as root inside the user's mapped namespace (so the image's
 * owners are kept) and never writes to the layers.
 *
 *   node copy-rootfs.js DEST LAYER_BOTTOM … LAYER_TOP
 */
import { chmodSync, lchownSync, copyFileSync, lstatSync, lutimesSync, mkdirSync, readdirSync, readlinkSync, rmSync, symlinkSync, linkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { loadFfi, lgetxattr, mknod } from '../native/ffi.js';

const OPAQUE = ['user.overlay.opaque', 'trusted.overlay.opaque'];

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function isOpaque(dir: string): boolean {
  for (const name of OPAQUE) {
    try {
      if (lgetxattr(dir, name)?.toString() === 'y') return true;
    } catch {
      // no permission for trusted.* as a user: not ours to read
    }
  }
  return false;
}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

function meta(p: string, st: Stats): void {
  lchownSync(p, st.uid, st.gid);
  if (!st.isSymbolicLink()) chmodSync(p, st.mode & 0o7777);
  lutimesSync(p, st.atime, st.mtime);
}

/** Hard links of one layer stay hard links: the first copy of an inode is linked to after. */
function applyDir(src: string, dest: string, links: Map<string, string>): void {
  if (isOpaque(src)) {
    for (const name of readdirSync(dest)) rmSync(join(dest, name), { recursive: true, force: true });
  }
  for (const name of readdirSync(src)) {
    const s = join(src, name);
    const d = join(dest, name);
    const st = lstatSync(s);
    const existing = lstatOrNull(d);
    if (isWhiteout(st)) {
      if (existing) rmSync(d, { recursive: true, force: true });
      continue;
    }
    if (st.isDirectory()) {
      if (existing && !existing.isDirectory()) rmSync(d, { recursive: true, force: true });
      if (!existing || !existing.isDirectory()) mkdirSync(d);
      applyDir(s, d, links);
      meta(d, st);
      continue;
    }
    if (existing) rmSync(d, { recursive: true, force: true });
    const key = `${st.dev}:${st.ino}`;
    const first = st.nlink > 1 ? links.get(key) : undefined;
    if (first) {
      linkSync(first, d);
      continue;
    }
    if (st.isSymbolicLink()) symlinkSync(readlinkSync(s), d);
    else if (st.isFile()) copyFileSync(s, d);
    else mknod(d, st.mode, Math.floor(st.rdev / 256), st.rdev % 256);
    meta(d, st);
    if (st.nlink > 1) links.set(key, d);
  }
}

async function main(): Promise<void> {
  const [dest, ...layers] = process.argv.slice(2);
  if (!dest || layers.length === 0) throw new Error('usage: copy-rootfs DEST LAYER...');
  await loadFfi();
  mkdirSync(dest, { recursive: true });
  for (const layer of layers) {
    applyDir(layer, dest, new Map());
    meta(dest, lstatSync(layer));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
