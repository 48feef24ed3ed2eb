/** Store failures a user can cause or fix: no space, no permission. */
import { FluxError, errnoCode } from '../src/errors.js';
import { errorPath, fsError } from '../src/fs-error.js';
import { isAbsolute, relative } from 'node:path';

/**
 * Turns an fs error under the store into one sentence naming the store and the fix; an error
 * naming a path outside the store (an archive being read) is said of that path; errors that are
 * not file-system errors pass through.
 */
export function storeIoError(err: unknown, root: string, doing: string): unknown {
  if (err instanceof FluxError) return err;
  const path = errorPath(err);
  if (path !== undefined && outside(path, root)) return fsError(err);
  const code = errnoCode(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new FluxError('NO_SPACE', `no space left on the device holding the image store ${root} while ${doing} (${code}).`, {
      hint: 'Free some space, or run `flux prune` to remove blobs and layers no image uses, then try again.',
      cause: err,
    });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new FluxError('STORE_ACCESS', `cannot write to the image store ${root} while ${doing} (${code}).`, {
      hint: 'Make the store writable by you, or point FLUX_STORE at a directory you own.',
      cause: err,
    });
  }
  // Any other errno (EMLINK, EIO, …) still ends in one sentence naming where and what to do.
  return fsError(err, root);
}

function outside(path: string, root: string): boolean {
  const r = relative(root, path);
  return r.startsWith('..') || isAbsolute(r);
}
