/** `flux tag`: a second name for a stored image; the blobs and layers are shared, nothing is copied. */
import { ImageIndex, Store } from '../../store/index.js';
import { FluxError } from '../errors.js';
import { parseSourceSpec } from '../sources/spec.js';
import { resolveImages, toJson } from './image-records.js';
import type { ImageInfo } from './api-types.js';

export async function tagImage(source: string, target: string, root?: string): Promise<ImageInfo> {
  const spec = parseSourceSpec(target);
  if (spec.kind !== 'registry' || spec.ref.digest !== undefined) {
    throw new FluxError('BAD_REFERENCE', `"${target}" cannot be a tag: a new name is NAME[:TAG], without a digest or a transport.`, {
      hint: 'Name the target like a registry image, e.g. `flux tag alpine localhost:5000/team/alpine:1`.',
      exitCode: 125,
    });
  }
  const store = Store.openExisting(root);
  // Held shared, as a pull holds it: a prune cannot remove the image between the read and the write.
  const gc = store ? await store.gcLock('use') : undefined;
  try {
    const [record] = await resolveImages(store, source);
    const tagged = {
      ...record!,
      reference: spec.canonical,
      repository: spec.repository,
      tag: spec.tag ?? 'latest',
      lastUsed: new Date().toISOString(),
    };
    await new ImageIndex(store!).put(tagged);
    return toJson(tagged);
  } finally {
    gc?.release();
  }
}
