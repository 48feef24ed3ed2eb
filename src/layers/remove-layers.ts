/**
 * Removing unpacked layers and stale temp trees. Their files belong to sub-uids, which only the
 * user's namespace may delete, so the deletion runs in the worker. A layer is first renamed
 * into tmp/ so it disappears from layers/ at once: an interrupted removal never leaves a
 * half-deleted layer that a run would use.
 */
import { mkdtemp, rename, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Store } from '../../store/index.js';
import { errnoCode } from '../errors.js';
import { assertDigest, digestHex } from '../image/digest.js';
import type { Digest } from '../image/types.js';
import { layerInfoPath } from './layer-info.js';
import { jobError } from './protocol.js';
import { runJobs } from './run-worker.js';
import { staleTemps, tempPrefix } from './stale.js';

export async function removeLayers(store: Store, diffIds: Digest[]): Promise<void> {
  const doomed: string[] = [];
  for (const d of diffIds) {
    assertDigest(d, 'layer diff_id');
    const path = store.layerPath(d);
    const parking = await mkdtemp(join(store.tmpDir, tempPrefix('removing', digestHex(d))));
    try {
      await rename(path, join(parking, 'layer'));
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    await rm(layerInfoPath(path), { force: true });
    doomed.push(parking);
  }
  await removeTrees(doomed);
}

/** Deletes trees (temp dirs of the store) whose files may belong to sub-uids. */
export async function removeTrees(paths: string[]): Promise<void> {
  if (paths.length === 0) return;
  const [r] = await runJobs([{ op: 'remove', paths }]);
  if (r && !r.ok) throw jobError(r.error);
}

/** Removes leftovers of crashed unpacks and removals; cheap when there are none (one readdir). */
export async function cleanStaleUnpacks(store: Store): Promise<number> {
  const stale = await staleTemps(store.tmpDir);
  if (stale.length === 0) return 0;
  // An empty leftover needs no namespace.
  const rest: string[] = [];
  for (const p of stale) await rmdir(p).catch(() => rest.push(p));
  await removeTrees(rest);
  return stale.length;
}
