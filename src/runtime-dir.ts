import { mkdirSync, lstatSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { FluxError } from './errors.js';

/**
 * The directory for run state (sockets, per-run files): $XDG_RUNTIME_DIR/flux when the session
 * has one, else a private /tmp/flux-UID that we create 0700 and refuse to use when someone else
 * owns it (another user could have planted it to read or swap our sockets).
 */
export function runtimeDir(chosen?: string): string {
  const uid = process.getuid?.() ?? 0;
  // A library caller's own choice (Flux({ runtimeDir })) is held to the same rule: private and theirs.
  if (chosen !== undefined) return ensurePrivate(chosen, uid);
  const xdg = process.env.XDG_RUNTIME_DIR;
  if (xdg && isPrivateDir(xdg, uid)) return ensurePrivate(join(xdg, 'flux'), uid);
  return ensurePrivate(join(tmpdir(), `flux-${uid}`), uid);
}

function isPrivateDir(path: string, uid: number): boolean {
  try {
    const st = lstatSync(path);
    return st.isDirectory() && st.uid === uid;
  } catch {
    return false;
  }
}

function ensurePrivate(path: string, uid: number): string {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new FluxError('RUNTIME_DIR', `cannot create the runtime directory ${path}: ${(err as Error).message}.`, {
        hint: 'Set XDG_RUNTIME_DIR to a private directory you own.',
      });
    }
  }
  const st = lstatSync(path);
  if (!st.isDirectory() || st.uid !== uid) {
    throw new FluxError('RUNTIME_DIR', `the runtime directory ${path} is not a directory owned by you.`, {
      hint: 'Remove it or set XDG_RUNTIME_DIR to a private directory you own.',
    });
  }
  if ((st.mode & 0o077) !== 0) chmodSync(path, 0o700);
  return path;
}
