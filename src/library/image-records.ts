/** The stored images as records (`flux images --json`), and the records a name designates. */
// The store's modules one by one, not store/index.js: its gc and disk-usage (and fs/promises with
// them) are not needed to pull, and this module loads before a pull starts its unpacker.
import { Store } from '../../store/store.js';
import { ImageIndex, type ImageRecord } from '../../store/image-index.js';
import type { ImageInfo } from './api-types.js';
import type { Digest } from '../image/types.js';
import { FluxError } from '../errors.js';
import { parseSourceSpec } from '../sources/spec.js';
import { splitShortName } from '../image/reference.js';

export type ImagesJsonEntry = ImageInfo;

export function toJson(r: ImageRecord): ImagesJsonEntry {
  return {
    reference: r.reference,
    repository: r.repository,
    tag: r.tag ?? null,
    id: r.configDigest,
    digest: r.manifestDigest,
    indexDigest: r.indexDigest ?? null,
    platform: formatPlatformOf(r),
    created: r.config.created ?? null,
    size: r.size,
    unpackedSize: r.unpackedSize ?? null,
    pulledAt: r.pulledAt,
    lastUsed: r.lastUsed,
  };
}

export function formatPlatformOf(r: ImageRecord): string {
  const p = r.platform;
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

function notFound(name: string, store: Store | undefined): FluxError {
  return new FluxError('IMAGE_NOT_FOUND', `there is no image "${name}" in the store${store ? ` ${store.root}` : ''}.`, {
    hint: '`flux images` lists the stored images; `flux pull IMAGE` fetches one.',
  });
}

/**
 * The records `name` designates: a reference (normalised like docker) names one record; an image
 * ID or digest names every reference of that image.
 */
export async function resolveImages(store: Store | undefined, name: string): Promise<ImageRecord[]> {
  if (!store) throw notFound(name, store);
  const index = new ImageIndex(store);
  if (/^(sha256:)?[a-f0-9]{4,64}$/.test(name)) {
    const hits = await index.find(name);
    if (hits.length > 0) return hits;
  }
  // A short name under registries.conf aliases or search registries: the first candidate stored, as a pull stored it.
  const short = splitShortName(name) ? await (await import('../registry/short-names.js')).shortNameFor(name) : undefined;
  for (const candidate of short?.candidates ?? [name]) {
    let canonical: string | undefined;
    try {
      canonical = parseSourceSpec(candidate).canonical;
    } catch (err) {
      if (!/^[a-f0-9]+$/.test(name)) throw err;
    }
    const hits = canonical === undefined ? [] : await index.find(canonical);
    if (hits.length > 0) return hits;
  }
  throw notFound(name, store);
}

/** Every stored image's record, oldest pull first as the index keeps them. */
export async function listImages(root?: string): Promise<ImageRecord[]> {
  const store = Store.openExisting(root);
  return store ? await new ImageIndex(store).list() : [];
}

/** `flux inspect`'s entry for each image a name designates: record, manifest and config. */
export async function inspectImages(names: string[], root?: string): Promise<Record<string, unknown>[]> {
  const store = Store.openExisting(root);
  const out: Record<string, unknown>[] = [];
  for (const name of names) {
    for (const r of await resolveImages(store, name)) {
      const manifest = await store!.readJson(r.manifestDigest);
      const config = await store!.readJson<Record<string, unknown>>(r.configDigest as Digest);
      out.push({
        Id: r.configDigest,
        Reference: r.reference,
        Repository: r.repository,
        Tag: r.tag ?? null,
        Digest: r.manifestDigest,
        IndexDigest: r.indexDigest ?? null,
        RepoDigests: [`${r.repository}@${r.indexDigest ?? r.manifestDigest}`],
        Created: r.config.created ?? null,
        Platform: formatPlatformOf(r),
        Os: r.config.os,
        Architecture: r.config.architecture,
        Variant: r.config.variant ?? null,
        Size: r.size,
        UnpackedSize: r.unpackedSize ?? null,
        PulledAt: r.pulledAt,
        LastUsed: r.lastUsed,
        Layers: r.layers,
        Config: config.config ?? {},
        Manifest: manifest,
        ImageConfig: config,
      });
    }
  }
  return out;
}
