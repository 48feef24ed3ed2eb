/**
 * libc calls Node does not offer, through koffi: mknod (overlay whiteouts, fifos, devices) and
 * the l*xattr family (opaque markers, PAX xattrs). Loaded on first use so that commands which
 * never touch them do not pay for loading libc bindings: most layers have no whiteout, no device
 * and no xattr, and their unpack never loads koffi (some 10-20 ms of an unpacker's start).
 */
import { loadKoffi } from '../koffi.js';
import { constants } from 'node:os';
import type { LayerFs } from '../../store/unpack/layer-fs.js';
import { LayerFsError } from '../../store/unpack/layer-fs.js';

type Fn = (...args: unknown[]) => number;
interface Libc {
  mknod: Fn;
  lsetxattr: Fn;
  lgetxattr: Fn;
  errno: () => number;
}

let loaded: Libc | undefined;

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

function load(): Libc {
  // Synchronous (koffi is CommonJS): a layer's first whiteout loads it where it is met.
  const koffi = loadKoffi();
  const lib = koffi.load('libc.so.6');
  return {
    // glibc ≥ 2.33 exports mknod itself; dev_t is 64-bit on Linux.
    mknod: lib.func('int mknod(const char *path, uint32_t mode, uint64_t dev)') as Fn,
    lsetxattr: lib.func('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)') as Fn,
    lgetxattr: lib.func('intptr_t lgetxattr(const char *path, const char *name, _Out_ void *value, size_t size)') as Fn,
    errno: () => koffi.errno(),
  };
}

/** Loads libc bindings now rather than at their first use. */
export async function loadFfi(): Promise<void> {
  lib();
}

function lib(): Libc {
  loaded ??= load();
  return loaded;
}

function fail(syscall: string, path: string): never {
  const errno = lib().errno();
  throw new LayerFsError(syscall, path, errno, ERRNO_NAMES.get(errno) ?? `errno ${errno}`);
}

/** Linux makedev(): the glibc encoding of a (major, minor) pair into dev_t. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

export function mknod(path: string, mode: number, major: number, minor: number): void {
  if (lib().mknod(path, mode, makedev(major, minor)) !== 0) fail('mknod', path);
}

export function lsetxattr(path: string, name: string, value: Buffer): void {
  if (lib().lsetxattr(path, name, value, value.length, 0) !== 0) fail('lsetxattr', path);
}

export function lgetxattr(path: string, name: string): Buffer | undefined {
  const buf = Buffer.alloc(64 * 1024);
  const n = Number(lib().lgetxattr(path, name, buf, buf.length));
  if (n < 0) {
    const errno = lib().errno();
    if (ERRNO_NAMES.get(errno) === 'ENODATA') return undefined;
    fail('lgetxattr', path);
  }
  return Buffer.from(buf.subarray(0, n));
}

/** The LayerFs the unpacker uses on this machine; libc is bound at the first call. */
export async function nativeLayerFs(): Promise<LayerFs> {
  return { mknod, lsetxattr, lgetxattr };
}
