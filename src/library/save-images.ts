/** `flux save`: stored images into one docker or OCI archive, the way to carry them to a machine without a network. */
import type { Writable } from 'node:stream';
import { Store } from '../../store/index.js';
import { FluxError } from '../errors.js';
import type { Digest } from '../image/types.js';
import { writeArchive, type ArchiveFormat, type ArchiveImage } from '../sources/write-archive.js';
import { resolveImages } from './image-records.js';

export type { ArchiveFormat };

export interface SaveOptions {
  /** docker-archive (default, as podman and docker) or oci-archive. */
  format?: ArchiveFormat;
}

export function parseArchiveFormat(s: string | undefined): ArchiveFormat {
  if (s === undefined || s === 'docker-archive') return 'docker-archive';
  if (s === 'oci-archive') return 'oci-archive';
  throw new FluxError('BAD_OPTION', `"${s}" is not an archive format flux writes.`, {
    hint: 'Use --format docker-archive (the default) or --format oci-archive.',
    exitCode: 125,
  });
}

/**
 * Only registry names with a tag travel in an archive (RepoTags and ref.name hold NAME:TAG): an
 * image named after its own oci: or archive source, or known by NAME@DIGEST only, goes unnamed,
 * as docker save writes an image pulled by digest.
 */
function isRegistryName(reference: string): boolean {
  return !/^(oci|oci-archive|docker-archive):/.test(reference) && !reference.includes('@');
}

export async function saveImages(names: string[], output: string | Writable, o: SaveOptions, root?: string): Promise<{ images: number; bytes: number }> {
  const format = parseArchiveFormat(o.format);
  if (names.length === 0) throw new FluxError('BAD_OPTION', 'flux save needs at least one image.', { hint: 'Name the images to save, e.g. `flux save -o alpine.tar alpine`.', exitCode: 125 });
  const store = Store.openExisting(root);
  const byManifest = new Map<Digest, ArchiveImage>();
  // Shared, as a pull: no prune removes a blob while it is being written out.
  const gc = store ? await store.gcLock('use') : undefined;
  try {
    for (const name of names) {
      const byId = /^(sha256:)?[a-f0-9]{4,64}$/.test(name);
      for (const r of await resolveImages(store, name)) {
        let img = byManifest.get(r.manifestDigest);
        if (!img) {
          img = { manifestDigest: r.manifestDigest, manifestMediaType: r.manifestMediaType, configDigest: r.configDigest, layers: r.layers.map((l) => l.digest), names: [] };
          byManifest.set(r.manifestDigest, img);
        }
        // An image saved by its ID carries no names, as with docker save.
        if (!byId && isRegistryName(r.reference) && !img.names.includes(r.reference)) img.names.push(r.reference);
        if (!byId) break;
      }
    }
    const images = [...byManifest.values()];
    const bytes = await writeArchive(output, format, images, (d) => store!.blobPath(d));
    return { images: images.length, bytes };
  } finally {
    gc?.release();
  }
}
