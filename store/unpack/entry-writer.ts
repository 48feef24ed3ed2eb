/**
 * Writes tar entries into a layer directory without ever following a symlink.
 *
 * The directory is fresh and private to this unpack, so what it holds is exactly what earlier
 * entries of this layer created: the writer keeps that record in memory (`made`) and asks it,
 * not lstat, what stands at a path (an lstat of a path that cannot exist yet was a third of
 * an entry's cost). Should the record ever be wrong, nothing follows a symlink all the same:
 * every creation is exclusive (mkdir, symlink, link, mknod, and files with O_EXCL|O_NOFOLLOW)
 * and fails on whatever the record missed. A parent that is a symlink is refused, file metadata
 * is set through the open descriptor, and directories get theirs at the end, again through an
 * O_NOFOLLOW descriptor (chmod following a symlink out of the layer was containerd
 * CVE-2021-32760).
 *
 * Whiteouts within a layer (image-spec layer.md) never hide the layer's own files:
 * - `.wh.NAME` where NAME does not exist yet becomes a 0/0 character device; a later entry of
 *   the same layer at NAME replaces that device (a directory then becomes opaque, since the
 *   layer deleted the lower NAME and made a new one);
 * - `.wh.NAME` where the layer already wrote NAME: a file hides the lower NAME by itself, a
 *   directory becomes opaque;
 * - `.wh..wh..opq` sets `overlay.opaque=y` on its directory, which only hides lower layers, so
 *   its position in the tar does not matter.
 */
import {
  closeSync, constants as C, fchmodSync, fchownSync, futimesSync, linkSync, lutimesSync,
  lchownSync, chmodSync, mkdirSync, openSync, rmSync, symlinkSync, unlinkSync, writeSync,
} from 'node:fs';
import type { Header as TarHeader } from 'tar-stream';
import { FluxError, errnoCode } from '../../src/errors.js';
import { normalizeEntryPath, showName } from './entry-path.js';
import type { LayerFs } from './layer-fs.js';
import { paxXattrs } from './pax.js';
import { PathTree } from './path-tree.js';
import { parseWhiteout } from './whiteout.js';

/** What this layer made at a path: a whiteout is the 0/0 device standing for a deleted lower file. */
type Kind = 'dir' | 'file' | 'symlink' | 'whiteout' | 'other';

interface Meta {
  mode: number;
  uid: number;
  gid: number;
  mtime: Date | undefined;
}

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const FILE_FLAGS = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;
const DIR_FLAGS = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;

/** tar-stream's header as it really comes: `type` is null for typeflags it does not know. */
export type Header = Omit<TarHeader, 'type' | 'pax'> & { type: TarHeader['type'] | null; pax?: Record<string, string> | null };
type Data = AsyncIterable<unknown>;

export class EntryWriter {
  bytes = 0;
  files = 0;
  /** Everything this layer made, by relative `/`-joined path ('' the root): exactly what the directory holds. */
  private readonly made = new PathTree<Kind>().set('', 'dir');
  /** Directories this layer made opaque: recorded in the layer's info file too, so that reading the image's /etc/passwd needs no xattr call. */
  readonly opaque = new PathTree<true>();
  /** Directory metadata, applied at the end so that creating children does not undo it. */
  private readonly dirMeta = new PathTree<Meta>();
  private readonly warned = new Set<string>();
  private readonly opaqueXattr: string;
  private readonly isRoot = process.geteuid?.() === 0 && process.getegid?.() === 0;

  constructor(
    private readonly root: string,
    private readonly layerFs: LayerFs,
    userXattr: boolean,
    private readonly onWarning: (message: string) => void,
    /** How messages name the layer, e.g. `sha256:0123abcd4567`. */
    private readonly label = '',
  ) {
    this.opaqueXattr = `${userXattr ? 'user' : 'trusted'}.overlay.opaque`;
  }

  /** Settles at once (undefined) for an entry without data, most of a layer's: no promise to wait for. */
  entry(header: Header, data: Data): Promise<void> | undefined {
    const name = header.name;
    const np = normalizeEntryPath(name);
    if (!np.ok) this.refuse(name, np.reason);
    const parts = np.parts;
    this.files++;

    if (parts.some((p, i) => p.startsWith('.wh..wh.') && !(i === parts.length - 1 && p === '.wh..wh..opq'))) {
      this.warn('aufs', 'aufs bookkeeping entries (.wh..wh.*) in a layer were ignored.');
      return rest(header, data);
    }
    const base = parts[parts.length - 1];
    if (base !== undefined) {
      const wh = parseWhiteout(base);
      if (wh.kind === 'invalid') this.refuse(name, `is an invalid whiteout (${wh.reason})`);
      if (wh.kind === 'opaque') {
        const dir = this.prepareParents(parts, name);
        this.setOpaque(dir);
        return rest(header, data);
      }
      if (wh.kind === 'whiteout') {
        const dir = this.prepareParents(parts, name);
        this.whiteout(join(dir, wh.target));
        return rest(header, data);
      }
    }

    const meta = metaOf(header);
    switch (header.type) {
      case 'directory':
        this.directory(parts, name, meta, header);
        return rest(header, data);
      case 'file':
      case 'contiguous-file':
        return this.file(parts, name, meta, header, data);
      case 'symlink':
        this.symlink(parts, name, meta, header);
        return rest(header, data);
      case 'link':
        this.hardlink(parts, name, header);
        return rest(header, data);
      case 'character-device':
      case 'block-device':
      case 'fifo':
        this.special(parts, name, meta, header);
        return rest(header, data);
      default:
        return this.refuse(name, `has the tar entry type ${JSON.stringify(header.type)}, which flux does not unpack`);
    }
  }

  /** Directory metadata, deepest first; each through an O_NOFOLLOW descriptor. */
  finish(): void {
    const dirs = [...this.dirMeta.entries()].sort((a, b) => depth(b[0]) - depth(a[0]));
    for (const [rel, meta] of dirs) {
      let fd: number;
      try {
        fd = openSync(this.abs(rel), DIR_FLAGS);
      } catch (err) {
        // Replaced by a later entry of another type: its metadata is no longer ours to set.
        if (['ENOENT', 'ENOTDIR', 'ELOOP'].includes(errnoCode(err) ?? '')) continue;
        throw err;
      }
      try {
        this.chown(meta, (u, g) => fchownSync(fd, u, g));
        fchmodSync(fd, meta.mode);
        if (meta.mtime) futimesSync(fd, meta.mtime, meta.mtime);
      } finally {
        closeSync(fd);
      }
    }
  }

  private directory(parts: string[], name: string, meta: Meta, header: Header): void {
    const rel = parts.join('/');
    if (parts.length > 0) {
      this.prepareParents(parts, name);
      const wasWhiteout = this.made.get(rel) === 'whiteout';
      if (this.clear(rel, true) !== 'kept') {
        mkdirSync(this.abs(rel), 0o700);
        this.made.set(rel, 'dir');
        if (wasWhiteout) this.setOpaque(rel);
      }
    }
    this.dirMeta.set(rel, meta);
    this.xattrs(rel, header);
  }

  private file(parts: string[], name: string, meta: Meta, header: Header, data: Data): Promise<void> | undefined {
    if (parts.length === 0) this.refuse(name, 'would turn the layer root into a file');
    const rel = parts.join('/');
    this.prepareParents(parts, name);
    this.clear(rel, false);
    const fd = openSync(this.abs(rel), FILE_FLAGS, 0o600);
    this.made.set(rel, 'file');
    if (header.size !== 0) return this.fileData(fd, rel, meta, header, data);
    try {
      this.fileMeta(fd, rel, meta, header);
    } finally {
      closeSync(fd);
    }
    return undefined;
  }

  private async fileData(fd: number, rel: string, meta: Meta, header: Header, data: Data): Promise<void> {
    try {
      for await (const chunk of data) {
        const buf = chunk as Buffer;
        let off = 0;
        while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
        this.bytes += buf.length;
      }
      this.fileMeta(fd, rel, meta, header);
    } finally {
      closeSync(fd);
    }
  }

  private fileMeta(fd: number, rel: string, meta: Meta, header: Header): void {
    this.chown(meta, (u, g) => fchownSync(fd, u, g));
    fchmodSync(fd, meta.mode); // after chown, which clears setuid/setgid
    this.xattrs(rel, header); // after chown, which clears security.capability
    if (meta.mtime) futimesSync(fd, meta.mtime, meta.mtime);
  }

  private symlink(parts: string[], name: string, meta: Meta, header: Header): void {
    if (parts.length === 0) this.refuse(name, 'is a symlink in place of the layer root');
    const target = header.linkname ?? '';
    if (target === '' || target.includes('\0')) this.refuse(name, 'is a symlink with an empty or invalid target');
    const rel = parts.join('/');
    this.prepareParents(parts, name);
    this.clear(rel, false);
    const path = this.abs(rel);
    symlinkSync(target, path); // stored verbatim: it is only ever resolved inside the container
    this.made.set(rel, 'symlink');
    this.chown(meta, (u, g) => lchownSync(path, u, g));
    this.xattrs(rel, header);
    if (meta.mtime) lutimesSync(path, meta.mtime, meta.mtime);
  }

  private hardlink(parts: string[], name: string, header: Header): void {
    if (parts.length === 0) this.refuse(name, 'is a hard link in place of the layer root');
    const linkname = header.linkname ?? '';
    const tp = normalizeEntryPath(linkname);
    if (!tp.ok) this.refuse(name, `is a hard link whose target ${showName(linkname)} ${tp.reason}`);
    if (tp.parts.length === 0) this.refuse(name, 'is a hard link to the layer root');
    const targetRel = tp.parts.join('/');
    this.checkParents(tp.parts, name, linkname);
    const kind = this.made.get(targetRel);
    if (kind === undefined) this.refuse(name, `is a hard link to ${showName(linkname)}, which is not an earlier entry of this layer`);
    if (kind === 'dir') this.refuse(name, `is a hard link to the directory ${showName(linkname)}`);
    const rel = parts.join('/');
    if (rel === targetRel) return;
    this.prepareParents(parts, name);
    this.clear(rel, false);
    linkSync(this.abs(targetRel), this.abs(rel)); // link(2) never follows a symlink at the target
    this.made.set(rel, kind); // a link to a whiteout device is one too
  }

  private special(parts: string[], name: string, meta: Meta, header: Header): void {
    if (parts.length === 0) this.refuse(name, 'is a device or fifo in place of the layer root');
    const rel = parts.join('/');
    this.prepareParents(parts, name);
    this.clear(rel, false);
    const path = this.abs(rel);
    const type = header.type === 'fifo' ? S_IFIFO : header.type === 'block-device' ? S_IFBLK : S_IFCHR;
    try {
      this.layerFs.mknod(path, type | 0o600, header.devmajor ?? 0, header.devminor ?? 0);
    } catch (err) {
      if (type !== S_IFIFO && ['EPERM', 'EACCES'].includes(errnoCode(err) ?? '')) {
        this.warn('mknod', `device nodes in the image (first: ${showName(name)}) were skipped: they cannot be created here.`);
        return;
      }
      throw err;
    }
    this.made.set(rel, 'other');
    this.chown(meta, (u, g) => lchownSync(path, u, g));
    chmodSync(path, meta.mode); // just created by us, not a symlink
    this.xattrs(rel, header);
    if (meta.mtime) lutimesSync(path, meta.mtime, meta.mtime);
  }

  private whiteout(rel: string): void {
    const kind = this.made.get(rel);
    if (kind === undefined) {
      this.layerFs.mknod(this.abs(rel), S_IFCHR, 0, 0);
      this.made.set(rel, 'whiteout');
    } else if (kind === 'dir') {
      this.setOpaque(rel);
    }
    // Otherwise this layer's own entry at that path already hides the lower one.
  }

  /** Makes every parent of `parts` a real directory of this layer; returns the parent path. */
  private prepareParents(parts: string[], name: string): string {
    // The usual case in one lookup: the parent is a directory this layer made, and so is each
    // of its own parents (the record drops a directory's subtree with it).
    const parent = parts.length > 1 ? parentOf(parts) : '';
    if (this.made.get(parent) === 'dir') return parent;
    let rel = '';
    for (let i = 0; i < parts.length - 1; i++) {
      rel = join(rel, parts[i] as string);
      const kind = this.made.get(rel);
      if (kind === 'dir') continue;
      if (kind === undefined) {
        this.mkdirImplicit(rel);
      } else if (kind === 'whiteout') {
        unlinkSync(this.abs(rel));
        this.made.delete(rel);
        this.mkdirImplicit(rel);
        this.setOpaque(rel);
      } else if (kind === 'symlink') {
        this.refuse(name, `goes through the symlink ${showName(rel)}`);
      } else {
        this.refuse(name, `needs ${showName(rel)} to be a directory, but an earlier entry made it a file`);
      }
    }
    return rel;
  }

  /** Like prepareParents for a hard link target: must already exist, no symlinks on the way. */
  private checkParents(parts: string[], name: string, linkname: string): void {
    if (this.made.get(parts.length > 1 ? parentOf(parts) : '') === 'dir') return;
    let rel = '';
    for (let i = 0; i < parts.length - 1; i++) {
      rel = join(rel, parts[i] as string);
      const kind = this.made.get(rel);
      if (kind === 'symlink') this.refuse(name, `is a hard link whose target ${showName(linkname)} goes through the symlink ${showName(rel)}`);
      if (kind !== 'dir') this.refuse(name, `is a hard link to ${showName(linkname)}, which is not an earlier entry of this layer`);
    }
  }

  private mkdirImplicit(rel: string): void {
    const path = this.abs(rel);
    mkdirSync(path);
    chmodSync(path, 0o755);
    this.made.set(rel, 'dir');
  }

  /** Removes what stands at `rel` unless it is a directory and `keepDir`. */
  private clear(rel: string, keepDir: boolean): 'kept' | 'removed' | 'absent' {
    const kind = this.made.get(rel);
    if (kind === undefined) return 'absent';
    if (kind === 'dir') {
      if (keepDir) return 'kept';
      rmSync(this.abs(rel), { recursive: true, force: true });
      this.forget(rel);
      return 'removed';
    }
    unlinkSync(this.abs(rel));
    this.made.delete(rel);
    return 'removed';
  }

  /** What this layer recorded at and under `rel`, which is gone: linear in that subtree alone. */
  private forget(rel: string): void {
    this.made.deleteTree(rel);
    this.dirMeta.deleteTree(rel);
    this.opaque.deleteTree(rel);
  }

  /** Nodes visited forgetting replaced directories, for tests and benches. */
  get forgetSteps(): number {
    return this.made.steps + this.dirMeta.steps + this.opaque.steps;
  }

  private setOpaque(rel: string): void {
    this.layerFs.lsetxattr(this.abs(rel), this.opaqueXattr, Buffer.from('y'));
    this.opaque.set(rel, true);
  }

  private xattrs(rel: string, header: Header): void {
    for (const [name, value] of paxXattrs(header.pax)) {
      if (/^[a-z]+\.overlay\./.test(name)) {
        // Overlay's own attributes (opaque, redirect, metacopy, whiteout) are flux's to set, never the image's.
        this.warn('xattr-overlay', `overlay attributes stored in the image (first: ${name} on ${showName(rel)}) were ignored.`);
        continue;
      }
      try {
        this.layerFs.lsetxattr(this.abs(rel), name, value);
      } catch (err) {
        const code = errnoCode(err) ?? 'error';
        if (!['EPERM', 'EACCES', 'ENOTSUP', 'EOPNOTSUPP', 'EINVAL', 'ERANGE', 'E2BIG'].includes(code)) throw err;
        this.warn(`xattr-${name.split('.')[0]}`, `the extended attribute ${name} of ${showName(rel)} (and others like it) could not be set (${code}).`);
      }
    }
  }

  /**
   * Ownership as the image says. Ids the user namespace does not map (a single-id map, without
   * subordinate ranges) fail with EINVAL; those files go to root, with one warning.
   */
  private chown(meta: Meta, chown: (uid: number, gid: number) => void): void {
    if (meta.uid === 0 && meta.gid === 0 && this.isRoot) return; // created by root: already 0:0
    try {
      chown(meta.uid, meta.gid);
    } catch (err) {
      const code = errnoCode(err);
      if (code !== 'EINVAL' && code !== 'EPERM') throw err;
      this.warn('chown', `files owned by ids that this user namespace does not map (first: ${meta.uid}:${meta.gid}) were given to root; add a range for your user to /etc/subuid and /etc/subgid to keep their owners.`);
      if (this.isRoot) return;
      try {
        chown(0, 0);
      } catch {
        // Not root here at all: the files keep the unpacking user as owner.
      }
    }
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  private warn(kind: string, message: string): void {
    if (this.warned.has(kind)) return;
    this.warned.add(kind);
    this.onWarning(message);
  }

  private refuse(name: string, reason: string): never {
    throw new FluxError('LAYER_REFUSED', `the layer ${this.label ? `${this.label} ` : ''}has an entry ${showName(name)} that ${reason}; flux refuses to unpack it.`, {
      hint: 'The image is malformed or hostile: do not use it, or ask its publisher for a fixed one.',
    });
  }
}

function metaOf(header: Header): Meta {
  const pax = header.pax ?? undefined;
  const paxMtime = pax?.mtime !== undefined ? Number(pax.mtime) : NaN;
  return {
    mode: (header.mode ?? 0o644) & 0o7777,
    uid: idOf(pax?.uid, header.uid),
    gid: idOf(pax?.gid, header.gid),
    mtime: Number.isFinite(paxMtime) ? new Date(paxMtime * 1000) : header.mtime,
  };
}

function idOf(pax: string | undefined, plain: number | undefined): number {
  const n = pax !== undefined ? Number(pax) : plain ?? 0;
  return Number.isSafeInteger(n) && n >= 0 && n <= 0xfffffffe ? n : 0;
}

function join(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** `a/b` of the parts `a`, `b`, `c`. */
function parentOf(parts: string[]): string {
  let rel = parts[0] as string;
  for (let i = 1; i < parts.length - 1; i++) rel += `/${parts[i] as string}`;
  return rel;
}

function depth(rel: string): number {
  let n = 0;
  for (const ch of rel) if (ch === '/') n++;
  return rel === '' ? -1 : n;
}

/** The bytes a non-file entry may still carry; most carry none, and then there is nothing to wait for. */
function rest(header: Header, data: Data): Promise<void> | undefined {
  return header.size === 0 ? undefined : drain(data);
}

async function drain(data: Data): Promise<void> {
  for await (const _ of data) {
    // A link or directory entry may still carry bytes; they are read and dropped.
  }
}
