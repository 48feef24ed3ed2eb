/**
 * Unpacks the layers an image needs and the store lacks, each once: layers are keyed by diff_id
 * (a layer shared by many images, or compressed both with gzip and zstd, is one directory), and
 * a per-layer lock makes concurrent flux processes wait for each other instead of unpacking the
 * same layer twice. For blobs already in the store; a pull uses startUnpackSession directly.
 */
import type { Store } from '../../store/index.js';
import { FluxError } from '../errors.js';
import { assertDigest } from '../image/digest.js';
import { startUnpackSession, type EnsureUnpackedOptions, type EnsureUnpackedResult, type LayerToUnpack } from './unpack-session.js';

export type { EnsureUnpackedOptions, EnsureUnpackedResult, LayerToUnpack } from './unpack-session.js';

export async function ensureUnpacked(store: Store, layers: LayerToUnpack[], opts: EnsureUnpackedOptions = {}): Promise<EnsureUnpackedResult> {
  for (const l of layers) {
    assertDigest(l.diffId, 'layer diff_id in the image config');
    assertDigest(l.digest, 'layer digest in the manifest');
    if (!(await store.hasLayer(l.diffId)) && !(await store.hasBlob(l.digest))) {
      throw new FluxError('BLOB_MISSING', `the store ${store.root} lacks the blob of layer ${l.digest.slice(0, 19)}, so it cannot be unpacked.`, {
        hint: 'Pull the image again to fetch it.',
      });
    }
  }
  const session = await startUnpackSession(store, layers, opts);
  for (const l of layers) session.blobReady(l.digest);
  const r = await session.finish();
  await session.closed();
  return r;
}
