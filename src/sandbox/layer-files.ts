import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readlinkSync, readSync, type Stats } from 'node:fs';
import { join } from 'node:path';

/**
 * A small file of the image as the assembled rootfs would show it, read from the unpacked layers
 * (topmost first) without mounting anything. Used for /etc/passwd and /etc/group.
 *
 * The path is resolved one component at a time in the merged view of the layers, as overlayfs
 * would: the topmost layer holding a name decides what it is, a whiteout (0/0 character device)
 * hides it, a directory merges with the same directory of the layers below until one of them is
 * opaque or holds something else there. A symlink is read from its layer and resolved again from
 * the image's root (an absolute target) or its directory, so `etc -> /somewhere` leads into the
 * image's /somewhere and never into the host's. Every path handed to the host's filesystem is a
 * layer directory followed by components already seen to be real directories of that layer, and
 * the file itself is opened with O_NOFOLLOW.
 */
export function readLayerFile(lowersTopFirst: string[], rel: string): string | undefined {
  const found = resolveInLayers(lowersTopFirst, rel);
  return found === undefined ? undefined : readSmallFile(found);
}

/** Larger files are not an /etc/passwd anyone needs, and would be read into memory whole. */
const MAX_BYTES = 4 * 1024 * 1024;
/** Linux's limit on symlinks followed in one lookup (MAXSYMLINKS). */
const MAX_LINKS = 40;

/** A directory of the merged view: its path from the image root and the layers that make it, topmost first. */
interface MergedDir {
  parts: string[];
  layers: string[];
}

type Entry =
  | { kind: 'dir'; dir: MergedDir }
  | { kind: 'file'; host: string }
  | { kind: 'link'; target: string }
  | { kind: 'none' };

/** The host path of the regular file at `rel` in the merged layers, or undefined. */
export function resolveInLayers(lowersTopFirst: string[], rel: string): string | undefined {
  const opaque = new OpaqueDirs();
  const root: MergedDir = { parts: [], layers: mergeStack(lowersTopFirst, [], opaque) };
  const stack: MergedDir[] = [root];
  const todo = rel.split('/');
  let links = 0;
  while (todo.length > 0) {
    const name = todo.shift()!;
    if (name === '' || name === '.') continue;
    if (name === '..') {
      if (stack.length > 1) stack.pop();
      continue;
    }
    const e = lookup(stack[stack.length - 1]!, name, opaque);
    if (e.kind === 'none') return undefined;
    if (e.kind === 'link') {
      if (++links > MAX_LINKS) return undefined;
      if (e.target.startsWith('/')) stack.length = 1;
      todo.unshift(...e.target.split('/'));
      continue;
    }
    if (e.kind === 'dir') {
      stack.push(e.dir);
      continue;
    }
    // A regular file: the answer when nothing follows, else a path through a file (ENOTDIR).
    return todo.every((p) => p === '' || p === '.') ? e.host : undefined;
  }
  return undefined;
}

function lstat(path: string): Stats | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined; // EACCES on a directory the image keeps private: as good as absent
  }
}

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** `name` in the merged directory `dir`: what its topmost layer holds there. */
function lookup(dir: MergedDir, name: string, opaque: OpaqueDirs): Entry {
  for (let i = 0; i < dir.layers.length; i++) {
    const layer = dir.layers[i]!;
    const host = join(layer, ...dir.parts, name);
    const st = lstat(host);
    if (st === undefined) continue;
    if (isWhiteout(st)) return { kind: 'none' };
    if (st.isSymbolicLink()) {
      try {
        return { kind: 'link', target: readlinkSync(host, 'utf8') };
      } catch {
        return { kind: 'none' };
      }
    }
    if (st.isFile()) return { kind: 'file', host };
    if (!st.isDirectory()) return { kind: 'none' };
    const parts = [...dir.parts, name];
    return { kind: 'dir', dir: { parts, layers: mergeStack(dir.layers.slice(i), parts, opaque) } };
  }
  return { kind: 'none' };
}

/**
 * The layers (from the first, which holds `parts` as a directory) whose `parts` directory shows
 * in the merged view: each next one down while it holds a directory there, up to and including
 * the first that marks it opaque.
 */
function mergeStack(layers: string[], parts: string[], opaque: OpaqueDirs): string[] {
  const out: string[] = [];
  for (const layer of layers) {
    if (out.length > 0 && parts.length > 0) {
      const st = lstat(join(layer, ...parts));
      if (st === undefined) continue;
      if (!st.isDirectory()) break; // a file or whiteout there ends the merge below it
    }
    out.push(layer);
    if (opaque.has(layer, parts.join('/'))) break;
  }
  return out;
}

/**
 * The opaque directories of each layer, from the layer's info file (`<layer>.json`, written at
 * unpack time) rather than its xattrs: a run does not load the native bindings that read them.
 */
class OpaqueDirs {
  private readonly byLayer = new Map<string, Set<string>>();

  has(layer: string, rel: string): boolean {
    let set = this.byLayer.get(layer);
    if (set === undefined) {
      set = new Set(readOpaqueList(layer));
      this.byLayer.set(layer, set);
    }
    return set.has(rel);
  }
}

function readOpaqueList(layer: string): string[] {
  try {
    const v = JSON.parse(readFileSync(`${layer}.json`, 'utf8')) as { opaque?: unknown };
    return Array.isArray(v.opaque) ? v.opaque.filter((p): p is string => typeof p === 'string') : [];
  } catch {
    return []; // no info file (a layer of an older flux): no opaque directory known
  }
}

function readSmallFile(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_BYTES) return undefined;
    const buf = Buffer.alloc(st.size);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, n);
      if (got === 0) break;
      n += got;
    }
    return buf.subarray(0, n).toString('utf8');
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
