/**
 * Unpacks the layers an image needs and the store lacks, each once: layers are keyed by diff_id
 * (a layer shared by many images, or compressed both with gzip and zstd, is one directory), and
 * a per-layer lock makes concurrent flux processes wait for each other instead of unpacking the
 * same layer twice. A layer is unpacked into tmp/ and renamed into layers/ only once complete
 * and verified, so a crash never leaves a half layer where a run would use it.
 */
import { chmod, mkdtemp, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Lock, Store } from '../../store/index.js';
import { FluxError } from '../errors.js';
import { assertDigest, digestHex } from '../image/digest.js';
import type { Digest } from '../image/types.js';
import { jobError, type Job, type JobResult } from './protocol.js';
import { isRealRoot, runJobs } from './run-worker.js';
import { readLayerInfo, writeLayerInfo } from './layer-info.js';
import { staleTemps, tempPrefix } from './stale.js';

export interface LayerToUnpack {
  digest: Digest;
  diffId: Digest;
  mediaType: string;
  size: number;
}

export interface EnsureUnpackedOptions {
  /** One call per kind of degradation (skipped devices, unmapped owners, ignored xattrs). Default: stderr. */
  onWarning?: (message: string) => void;
  /** Called when a layer is about to be unpacked and when it is done. */
  onLayer?: (event: { diffId: Digest; state: 'start' | 'done'; size?: number; files?: number }) => void;
  /** Says that another flux process is unpacking the same layer and we wait for it. */
  onWait?: (diffId: Digest) => void;
}

export interface EnsureUnpackedResult {
  /** Bytes of file content unpacked by this call. */
  unpackedBytes: number;
  /** Bytes of file content of all the given layers, as recorded when each was unpacked. */
  unpackedSize: number;
  /** Layers this call unpacked. */
  unpacked: Digest[];
}

export async function ensureUnpacked(store: Store, layers: LayerToUnpack[], opts: EnsureUnpackedOptions = {}): Promise<EnsureUnpackedResult> {
  const warn = opts.onWarning ?? ((m: string) => process.stderr.write(`flux: warning: ${m}\n`));
  const unique = new Map<Digest, LayerToUnpack>();
  for (const l of layers) {
    assertDigest(l.diffId, 'layer diff_id in the image config');
    assertDigest(l.digest, 'layer digest in the manifest');
    if (!unique.has(l.diffId)) unique.set(l.diffId, l);
  }

  const missing: LayerToUnpack[] = [];
  for (const l of unique.values()) if (!(await store.hasLayer(l.diffId))) missing.push(l);
  for (const l of missing) {
    if (!(await store.hasBlob(l.digest))) {
      throw new FluxError('BLOB_MISSING', `The store ${store.root} lacks the blob of layer ${l.digest.slice(0, 19)}, so it cannot be unpacked.`, {
        hint: 'Pull the image again to fetch it.',
      });
    }
  }

  const unpacked: Digest[] = [];
  let unpackedBytes = 0;
  if (missing.length > 0) {
    // Sorted, so two processes needing overlapping layers take their locks in the same order.
    missing.sort((a, b) => (a.diffId < b.diffId ? -1 : 1));
    const locks: Lock[] = [];
    try {
      const todo: LayerToUnpack[] = [];
      for (const l of missing) {
        locks.push(await store.lock(`layer-${digestHex(l.diffId)}`, { onWait: () => opts.onWait?.(l.diffId) }));
        if (!(await store.hasLayer(l.diffId))) todo.push(l);
      }
      const r = await unpackLayers(store, todo, warn, opts);
      unpacked.push(...r.unpacked);
      unpackedBytes = r.bytes;
    } finally {
      for (const lock of locks) lock.release();
    }
  }

  let unpackedSize = 0;
  for (const d of unique.keys()) unpackedSize += (await readLayerInfo(store.layerPath(d)))?.size ?? 0;
  return { unpackedBytes, unpackedSize, unpacked };
}

async function unpackLayers(
  store: Store,
  todo: LayerToUnpack[],
  warn: (m: string) => void,
  opts: EnsureUnpackedOptions,
): Promise<{ unpacked: Digest[]; bytes: number }> {
  if (todo.length === 0) return { unpacked: [], bytes: 0 };
  const userXattr = !isRealRoot();
  // Leftovers of crashed unpacks (of these layers, or of any whose process is gone) go in the same worker run.
  const stale = new Set<string>(await staleTemps(store.tmpDir));
  for (const l of todo) for (const p of await staleTemps(store.tmpDir, digestHex(l.diffId))) stale.add(p);

  const jobs: Job[] = stale.size > 0 ? [{ op: 'remove', paths: [...stale] }] : [];
  const dirs = new Map<Digest, string>();
  for (const l of todo) {
    const dir = await mkdtemp(join(store.tmpDir, tempPrefix('unpack', digestHex(l.diffId))));
    await chmod(dir, 0o755);
    dirs.set(l.diffId, dir);
    jobs.push({ op: 'unpack', blob: store.blobPath(l.digest), mediaType: l.mediaType, diffId: l.diffId, dir, userXattr });
    opts.onLayer?.({ diffId: l.diffId, state: 'start' });
  }

  const results = await runJobs(jobs);
  const seen = new Set<string>();
  let firstError: JobResult | undefined;
  const unpacked: Digest[] = [];
  let bytes = 0;
  for (const r of results) {
    for (const w of r.warnings) {
      if (!seen.has(w)) warn(w);
      seen.add(w);
    }
    if (!r.ok) {
      firstError ??= r;
      continue;
    }
    if (r.op !== 'unpack') continue;
    const dest = store.layerPath(r.diffId);
    await writeLayerInfo(dest, { size: r.size, files: r.files, xattr: userXattr ? 'user' : 'trusted' });
    await rename(dirs.get(r.diffId) as string, dest);
    unpacked.push(r.diffId);
    bytes += r.size;
    opts.onLayer?.({ diffId: r.diffId, state: 'done', size: r.size, files: r.files });
  }
  if (firstError && !firstError.ok) throw jobError(firstError.error);
  return { unpacked, bytes };
}
