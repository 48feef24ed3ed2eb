/** Finding an image in the store by what a user typed. Light: no network or archive code. */
import { findImage, type ImageRecord } from '../../store/image-index.js';
import type { Store } from '../../store/store.js';
import { FluxError } from '../errors.js';
import { parseSourceSpec } from './spec.js';
import { splitShortName } from '../image/reference.js';

/**
 * The record for `name`: a reference as typed (normalised like docker), an image ID (prefix) or
 * digest, or `oci:`/`oci-archive:`/`docker-archive:` source. Undefined when not in the store.
 */
export async function lookupImage(store: Store, name: string): Promise<ImageRecord | undefined> {
  if (/^(sha256:)?[a-f0-9]{12,64}$/.test(name)) {
    const byId = await findImage(store, name);
    if (byId) return byId;
  }
  // A short name under registries.conf aliases or search registries: the first candidate stored.
  // The registry code loads only for a short name: a run of `oci:DIR` or `host/app` never needs it.
  const short = splitShortName(name) ? await (await import('../registry/short-names.js')).shortNameFor(name) : undefined;
  if (short) {
    for (const candidate of short.candidates) {
      const found = await findImage(store, parseSourceSpec(candidate).canonical);
      if (found) return found;
    }
    return undefined;
  }
  let canonical: string;
  try {
    canonical = parseSourceSpec(name).canonical;
  } catch (err) {
    // Not a valid reference: it might still be a short image ID.
    if (err instanceof FluxError && /^[a-f0-9]{4,64}$/.test(name)) return findImage(store, name);
    throw err;
  }
  return findImage(store, canonical);
}
