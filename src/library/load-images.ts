/** `flux load`: the images of a docker or OCI archive into the store, under the names they carry. */
import { createWriteStream, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Store } from '../../store/index.js';
import { FluxError } from '../errors.js';
import { storeFromSource } from '../pull/pull-image.js';
import { archiveImages } from '../sources/archive-images.js';
import { toJson } from './image-records.js';
import type { ImageInfo } from './api-types.js';

/**
 * Loads every image `input` (a file, or a stream such as standard input) holds. A stream is
 * first written to the store's tmp/: a tar's members are read out of order.
 */
export async function loadImages(input: string | Readable, root?: string): Promise<ImageInfo[]> {
  const store = Store.open(root);
  if (typeof input === 'string') {
    if (!statSync(input, { throwIfNoEntry: false })?.isFile()) {
      throw new FluxError('SOURCE_NOT_FOUND', `there is no archive file ${input}.`, { hint: 'Check the path given to -i (a file written by flux save, podman save or docker save).', exitCode: 125 });
    }
    return loadArchive(store, input);
  }
  // The spool is held under the gc lock, as a pull's partial blobs are: `flux prune` empties
  // tmp/ only under the exclusive lock, so it waits for this load instead of deleting its spool.
  const gc = await store.gcLock('use');
  let tmpDir: string | undefined;
  try {
    tmpDir = await store.tempDir('load-');
    const file = join(tmpDir, 'archive.tar');
    await pipeline(input, createWriteStream(file, { mode: 0o600 }));
    return await loadArchive(store, file);
  } finally {
    // Also when the spool could not be written whole (a full disk): a partial archive is of no use.
    if (tmpDir !== undefined) await rm(tmpDir, { recursive: true, force: true });
    gc.release();
  }
}

async function loadArchive(store: Store, file: string): Promise<ImageInfo[]> {
  const out: ImageInfo[] = [];
  for (const img of await archiveImages(file)) {
    const r = await storeFromSource({ source: img.source, ...(img.first !== undefined ? { first: img.first } : {}), reference: img.reference, repository: img.repository, ...(img.tag !== undefined ? { tag: img.tag } : {}) }, { store });
    out.push(toJson(r.record));
  }
  return out;
}
