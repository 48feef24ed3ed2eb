/**
 * The store is trusted only when no one else can have put anything in it: its root and every
 * directory flux keeps in it must be owned by the user running flux and writable by no one else.
 * Another user's store (a FLUX_STORE they made, or made world-writable) could hold layers, index
 * entries or blobs they planted. The root may be reached through a symlink (FLUX_STORE=~/link);
 * the directories inside it may not.
 */
import type { Stats } from 'node:fs';
import { FluxError } from '../src/errors.js';

export function checkStoreDir(path: string, st: Stats, isStoreRoot: boolean): void {
  const uid = process.geteuid?.() ?? 0;
  if (!st.isDirectory()) {
    throw new FluxError('STORE_UNTRUSTED', `the image store path ${path} is not a directory${isStoreRoot ? '' : ' (a symlink inside the store is not followed)'}.`, {
      hint: isStoreRoot ? 'Point FLUX_STORE at a directory you own.' : `Remove ${path}; flux recreates it.`,
    });
  }
  if (st.uid !== uid) {
    throw new FluxError('STORE_UNTRUSTED', `the image store directory ${path} is owned by uid ${st.uid}, not by you (uid ${uid}), so that user could have planted images in it.`, {
      hint: 'Point FLUX_STORE at a directory you own (or remove this one and let flux create it).',
    });
  }
  if ((st.mode & 0o022) !== 0) {
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    throw new FluxError('STORE_UNTRUSTED', `the image store directory ${path} is writable by ${st.mode & 0o002 ? 'all users' : 'its group'} (mode ${mode}), so others could have planted images in it.`, {
      hint: `Check it holds only what you pulled, then run chmod go-w ${path} (or remove it and pull again).`,
    });
  }
}
