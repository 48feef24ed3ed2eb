/**
 * A file-system error a user can meet (a full disk, a quota, a read-only mount, permissions, a
 * file system's limits) as one sentence that names the path and the errno, and a hint that names
 * the fix. A pull or a run must never answer such an error with "internal error": the user can
 * do something about each of these, and needs to know what and where.
 */
import { FluxError, errnoCode } from './errors.js';

interface Known {
  /** The sentence, with `{p}` for the path. */
  say: string;
  hint: string;
}

const STORE_HINT = 'point FLUX_STORE at a directory on another file system';

const KNOWN: Record<string, Known> = {
  ENOSPC: { say: 'no space is left on the device holding {p}', hint: `Free some space (flux prune removes what no image uses) or ${STORE_HINT}.` },
  EDQUOT: { say: 'your disk quota is used up on the file system holding {p}', hint: `Free some of your files (flux prune removes what no image uses) or ${STORE_HINT}.` },
  EROFS: { say: '{p} is on a read-only file system', hint: `Remount it read-write or ${STORE_HINT}.` },
  EACCES: { say: 'permission to {p} was denied', hint: 'Make it and its parent directories writable and searchable by you, or point FLUX_STORE at a directory you own.' },
  EPERM: { say: 'the operation on {p} was not permitted', hint: 'Make the path yours (not immutable, not on a file system that refuses owners and modes), or point FLUX_STORE at a directory you own.' },
  EMLINK: { say: 'the directory or file {p} has as many links as its file system allows', hint: `Use a file system without that limit (ext4 with dir_nlink, xfs, btrfs): ${STORE_HINT}.` },
  EFBIG: { say: 'a file under {p} is larger than its file system allows', hint: `Point FLUX_STORE at a directory on another file system.` },
  ENAMETOOLONG: { say: 'a name under {p} is longer than its file system allows', hint: `Use a shorter FLUX_STORE path, or ${STORE_HINT}.` },
  EIO: { say: 'the device holding {p} reported an input/output error', hint: 'Check the disk (dmesg names the fault), or point FLUX_STORE at another disk.' },
  EXDEV: { say: '{p} and the place it was moved to are on different file systems', hint: 'Keep every directory of the store on one file system (do not mount over its subdirectories).' },
  EMFILE: { say: 'flux ran out of file descriptors while working on {p}', hint: 'Raise the limit (ulimit -n 4096) and try again.' },
  ENFILE: { say: 'the system ran out of file descriptors while flux worked on {p}', hint: 'Close other programs or raise fs.file-max, and try again.' },
  ENOMEM: { say: 'the system ran out of memory while flux worked on {p}', hint: 'Free some memory and try again.' },
  ENOTDIR: { say: 'a part of the path {p} is not a directory', hint: 'Something else changed the store meanwhile; run flux prune, then try again.' },
  ENOENT: { say: '{p} disappeared while flux used it', hint: 'Something else changed the store meanwhile; run the command again.' },
  EEXIST: { say: '{p} already exists', hint: 'Something else changed the store meanwhile; run the command again.' },
  ENOTEMPTY: { say: '{p} already exists and is not empty', hint: 'Something else changed the store meanwhile; run the command again.' },
  ELOOP: { say: '{p} goes through too many symbolic links', hint: 'Point FLUX_STORE at a path without symlink loops.' },
  EBUSY: { say: '{p} is busy (a mount point, or in use)', hint: 'Unmount what is mounted there, or wait for what uses it, and try again.' },
  ENOTSUP: { say: 'the file system holding {p} does not support an operation flux needs', hint: `Point FLUX_STORE at a directory on another file system (ext4, xfs, btrfs, tmpfs).` },
  EOPNOTSUPP: { say: 'the file system holding {p} does not support an operation flux needs', hint: `Point FLUX_STORE at a directory on another file system (ext4, xfs, btrfs, tmpfs).` },
};

/** Whether `code` is a system errno name (not a zlib or Node-internal code). */
export function isErrnoCode(code: string | undefined): boolean {
  return code !== undefined && /^E[A-Z0-9]+$/.test(code);
}

/** The path a Node or libc error names, if any. */
export function errorPath(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const p = (err as { path?: unknown }).path;
  return typeof p === 'string' && p !== '' ? p : undefined;
}

/** One sentence and a hint for errno `code` at `path`. */
export function fsErrorText(code: string, path: string): { message: string; hint: string } {
  const k = KNOWN[code];
  if (k) return { message: `${k.say.replace('{p}', path)} (${code}).`, hint: k.hint };
  return { message: `a file-system operation on ${path} failed (${code}).`, hint: 'Check that the path is on a healthy local file system you can write to, or point FLUX_STORE at another one.' };
}

/**
 * The error as a FluxError when it is a system error; `fallbackPath` names where flux was
 * working when the error carries no path of its own. Anything else comes back unchanged.
 */
export function fsError(err: unknown, fallbackPath?: string): unknown {
  if (err instanceof FluxError) return err;
  const code = errnoCode(err);
  if (code === undefined || !isErrnoCode(code)) return err;
  const path = errorPath(err) ?? fallbackPath;
  if (path === undefined) return err;
  const { message, hint } = fsErrorText(code, path);
  return new FluxError(code === 'ENOSPC' || code === 'EDQUOT' ? 'NO_SPACE' : 'FS_ERROR', message, { hint, cause: err });
}
