/**
 * Renames a layer tree within the store. Moving a directory to another parent needs write
 * permission on the directory itself (its `..` changes); a layer whose root the image made
 * read-only (0555) grants that only to root in the user namespace that owns the layer, so such
 * a move is handed to the unpack worker. Every other layer moves here, with no worker to start.
 */
import { rename } from 'node:fs/promises';
import { errnoCode } from '../errors.js';
import { fsError } from '../fs-error.js';
import { jobError } from './protocol.js';
import { runJobs } from './job-runner.js';

/** Renames `from` to `to`; false when `from` does not exist. */
export async function moveDir(from: string, to: string): Promise<boolean> {
  try {
    await rename(from, to);
    return true;
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') return false;
    if (code !== 'EACCES' && code !== 'EPERM') throw fsError(err, from);
  }
  const [r] = await runJobs([{ op: 'rename', from, to }]);
  if (r && !r.ok) throw jobError(r.error);
  return true;
}
