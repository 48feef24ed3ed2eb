/** `flux push`: a stored image to a registry, sending only the blobs it lacks. */
import { createReadStream } from 'node:fs';
import { Store } from '../../store/index.js';
import { FluxError } from '../errors.js';
import type { Digest } from '../image/types.js';
import { pushToRegistry, type PushBlob, type PushResult } from '../registry/push.js';
import { parseSourceSpec } from '../sources/spec.js';
import { resolveImages } from './image-records.js';

export type { PushResult };

export interface PushImageOptions {
  /** Plain HTTP and unverified TLS for a registry that is not on loopback. */
  insecure?: boolean;
  /** One call per blob: the registry had it, mounted it from another repository, or was sent it. */
  onBlob?: (digest: Digest, outcome: 'present' | 'mounted' | 'sent') => void;
}

export async function pushImage(name: string, destination: string | undefined, o: PushImageOptions, root?: string): Promise<PushResult & { reference: string }> {
  const store = Store.openExisting(root);
  const [record] = await resolveImages(store, name);
  const target = destination ?? record!.reference;
  const spec = parseSourceSpec(target);
  if (spec.kind !== 'registry') {
    throw new FluxError('BAD_REFERENCE', `"${target}" is not a registry to push to.`, {
      hint: 'Give a destination such as registry.example.com/team/app:1.0 (`flux save` writes archives).',
      exitCode: 125,
    });
  }
  const from = parseSourceSpec(record!.reference);
  // Where the image came from on the same registry, blobs can be mounted instead of sent.
  const mountFrom = from.kind === 'registry' && from.ref.registry === spec.ref.registry ? from.ref.repository : undefined;
  const gc = await store!.gcLock('use');
  try {
    const manifestBytes = await store!.readBlob(record!.manifestDigest);
    const blob = (digest: Digest, size: number): PushBlob => ({ digest, size, open: () => createReadStream(store!.blobPath(digest)) });
    const blobs = [blob(record!.configDigest, (await store!.readBlob(record!.configDigest)).length), ...record!.layers.map((l) => blob(l.digest, l.size))];
    for (const b of blobs) {
      if (!(await store!.hasBlob(b.digest, b.size))) {
        throw new FluxError('BLOB_MISSING', `the store lacks blob ${b.digest.slice(0, 19)}… of ${record!.reference}.`, { hint: `Pull the image again (\`flux pull ${record!.reference}\`), then push it.` });
      }
    }
    const r = await pushToRegistry(spec.ref, { bytes: manifestBytes, mediaType: record!.manifestMediaType, digest: record!.manifestDigest }, blobs, {
      ...(o.insecure ? { insecure: true } : {}),
      ...(mountFrom !== undefined ? { mountFrom } : {}),
      ...(o.onBlob ? { onBlob: o.onBlob } : {}),
    });
    return { ...r, reference: spec.canonical };
  } finally {
    gc.release();
  }
}
