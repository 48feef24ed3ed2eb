/**
 * Removing unpacked layers and stale temp trees. Their files belong to sub-uids, which only the
 * user's namespace may delete, so the deletion runs in the worker. A layer is first renamed
 * into tmp/ so it disappears from layers/ at once: an interrupted removal never leaves a
 * half-deleted layer that a run would use.
 */
import { mkdtemp, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Store } from '../../store/index.js';
import { assertDigest, digestHex } from '../image/digest.js';
import type { Digest } from '../image/types.js';
import { layerInfoPath } from './layer-info.js';
import { moveDir } from './move-dir.js';
import { jobError } from './protocol.js';
import { runJobs } from './job-runner.js';
import { staleTemps, tempPrefix } from './stale.js';

/**
 * Removes unpacked layers. With `inUse`, asked once they are out of layers/, a layer that a run
 * started meanwhile lists is put back instead; those are returned.
 */
export async function removeLayers(store: Store, diffIds: Digest[], inUse?: () => Promise<Set<Digest>>): Promise<Digest[]> {
  const parked: Array<{ d: Digest; path: string; parking: string; moved: boolean }> = [];
  for (const d of diffIds) {
    assertDigest(d, 'layer diff_id');
    const path = store.layerPath(d);
    const parking = await mkdtemp(join(store.tmpDir, tempPrefix('removing', digestHex(d))));
    const moved = await moveDir(path, join(parking, 'layer'));
    parked.push({ d, path, parking, moved });
  }
  const used = inUse ? await inUse() : new Set<Digest>();
  const kept: Digest[] = [];
  const doomed: string[] = [];
  for (const p of parked) {
    if (p.moved && used.has(p.d)) {
      await moveDir(join(p.parking, 'layer'), p.path);
      await rmdir(p.parking);
      kept.push(p.d);
      continue;
    }
    await rm(layerInfoPath(p.path), { force: true });
    doomed.push(p.parking);
  }
  await removeTrees(doomed);
  return kept;
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
