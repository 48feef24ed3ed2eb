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
  let file: string;
  let tmpDir: string | undefined;
  if (typeof input === 'string') {
    if (!statSync(input, { throwIfNoEntry: false })?.isFile()) {
      throw new FluxError('SOURCE_NOT_FOUND', `there is no archive file ${input}.`, { hint: 'Check the path given to -i (a file written by flux save, podman save or docker save).', exitCode: 125 });
    }
    file = input;
  } else {
    tmpDir = await store.tempDir('load-');
    file = join(tmpDir, 'archive.tar');
    await pipeline(input, createWriteStream(file, { mode: 0o600 }));
  }
  try {
    const out: ImageInfo[] = [];
    for (const img of await archiveImages(file)) {
      const r = await storeFromSource({ source: img.source, ...(img.first !== undefined ? { first: img.first } : {}), reference: img.reference, repository: img.repository, ...(img.tag !== undefined ? { tag: img.tag } : {}) }, { store });
      out.push(toJson(r.record));
    }
    return out;
  } finally {
    if (tmpDir !== undefined) await rm(tmpDir, { recursive: true, force: true });
  }
}
