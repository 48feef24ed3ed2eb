/**
 * Removing images: the records first, then right away the blobs and unpacked layers that no
 * remaining image uses (as `docker rmi` frees the space). A reference removes that name only;
 * an image ID or digest removes every name of that image. And pruning: everything no image uses.
 */
import { ImageIndex, Store, collectGarbage, imageId, referencedBy, type GcOptions, type ImageRecord } from '../../store/index.js';
import { FluxError, isFluxError } from '../errors.js';
import { containersRoot } from '../container/container-state.js';
import { containerUsing } from '../container/containers-using.js';
import { resolveImages } from './image-records.js';
import type { PruneResult, RemoveResult } from './api-types.js';

export interface RemoveImagesOptions {
  /** Remove an image a container was made from (its layers stay for the container). */
  force?: boolean;
  /** Where the user's containers are (FluxOptions.runtimeDir). */
  runtimeDir?: string;
}

export async function removeImages(names: string[], root: string | undefined, onWait: () => void, o: RemoveImagesOptions = {}): Promise<RemoveResult> {
  const store = Store.openExisting(root);
  // Resolve every name first: an unknown one removes nothing at all.
  const doomed = new Map<string, ImageRecord>();
  for (const n of names) for (const r of await resolveImages(store, n)) doomed.set(r.reference, r);
  const s = store!;
  const gc = await s.gcLock('collect', { onWait });
  try {
    const all = await new ImageIndex(s).list();
    if (!o.force) refuseIfUsed(s, [...doomed.values()], all, o.runtimeDir);
    const only = referencedBy([...doomed.values()]);
    const { removeLayers } = await import('../layers/index.js');
    const gcOptions: GcOptions = { only, removeLayers: (d, inUse) => removeLayers(s, d, inUse) };
    const early = await untag(s, [...doomed.keys()], gcOptions);
    const r = await collectGarbage(s, gcOptions);
    r.freedBytes += early.freedBytes;
    r.layers += early.layers;
    const ids = new Set([...doomed.values()].map((x) => imageId(x)));
    const still = new Set((await new ImageIndex(s).list()).map((x) => imageId(x)));
    return {
      untagged: [...doomed.keys()],
      deleted: [...ids].filter((id) => !still.has(id)),
      freedBytes: r.freedBytes,
      blobs: r.blobs,
      layers: r.layers,
    };
  } finally {
    gc.release();
  }
}

/**
 * Removes the records. The index is rewritten through a new file, which needs free space: on a
 * full disk the doomed images' unpacked layers that no remaining image or live run uses go
 * first, then the write is tried again. That order is safe at every step: an image still
 * recorded whose layers are gone is unpacked again from its blobs by the next run or pull, and
 * no blob goes before the index stops referencing it (collectGarbage, afterwards). Returns what
 * was freed early.
 */
async function untag(store: Store, references: string[], gcOptions: GcOptions): Promise<{ freedBytes: number; layers: number }> {
  const index = new ImageIndex(store);
  try {
    await index.remove(references);
    return { freedBytes: 0, layers: 0 };
  } catch (err) {
    if (!(isFluxError(err) && err.code === 'NO_SPACE')) throw err;
    const gone = new Set(references);
    const keep = (await index.list()).filter((r) => !gone.has(r.reference));
    const early = await collectGarbage(store, { ...gcOptions, keep, layersOnly: true });
    // Nothing freed: the same write would fail the same way.
    if (early.layers === 0) throw err;
    await index.remove(references);
    return early;
  }
}

/**
 * As docker: an image a container (running or stopped) was made from is not deleted without
 * force. Removing one of several names of it only untags, and is allowed.
 */
function refuseIfUsed(store: Store, doomed: ImageRecord[], all: ImageRecord[], runtimeDir: string | undefined): void {
  const gone = new Set(doomed.map((r) => r.reference));
  const kept = new Set(all.filter((r) => !gone.has(r.reference)).map((r) => imageId(r)));
  const root = containersRoot(runtimeDir);
  for (const r of doomed) {
    if (kept.has(imageId(r))) continue;
    const c = containerUsing(root, store.root, r);
    if (c) {
      throw new FluxError('IMAGE_IN_USE', `the image ${r.reference} is used by the container ${c.name} (${c.id.slice(0, 12)}).`, {
        hint: `Remove the container first (flux rm ${c.name}), or use flux rmi -f, which removes the image and keeps its layers for the container.`,
      });
    }
  }
}

export async function pruneStore(root: string | undefined, onWait: () => void): Promise<PruneResult> {
  const store = Store.openExisting(root);
  if (!store) return { blobs: 0, layers: 0, tmpEntries: 0, runDirs: 0, freedBytes: 0 };
  const gc = await store.gcLock('collect', { onWait });
  try {
    const { removeLayers, removeTrees, cleanStaleUnpacks } = await import('../layers/index.js');
    await cleanStaleUnpacks(store);
    // First the writable layers of runs that died (kill -9 of flux): garbage too, and what they
    // listed then no longer keeps its layers.
    const runs = await (await import('../container/stale-runs.js')).removeStaleRuns(store.runsDir);
    const r = await collectGarbage(store, {
      removeLayers: (d, inUse) => removeLayers(store, d, inUse),
      removeTrees,
      sweepTmp: true,
    });
    return { blobs: r.blobs, layers: r.layers, tmpEntries: r.tmpEntries, runDirs: runs.count, freedBytes: r.freedBytes + runs.freedBytes };
  } finally {
    gc.release();
  }
}
