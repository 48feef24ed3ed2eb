/**
 * Where an image name points: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:NAME:TAG]`
 * (skopeo's transports) or a registry reference. Pure; the canonical name is the image index key.
 */
import { resolve } from 'node:path';
import { parseReference, type Reference } from '../image/reference.js';
import { FluxError } from '../errors.js';

export type SourceSpec =
  | { kind: 'registry'; ref: Reference; canonical: string; repository: string; tag?: string }
  | { kind: 'oci' | 'oci-archive' | 'docker-archive'; path: string; tag?: string; canonical: string; repository: string };

const TRANSPORTS = ['oci', 'oci-archive', 'docker-archive'] as const;

export function parseSourceSpec(input: string): SourceSpec {
  for (const t of TRANSPORTS) {
    if (!input.startsWith(`${t}:`)) continue;
    const rest = input.slice(t.length + 1);
    let path = rest;
    let tag: string | undefined;
    if (t === 'oci') {
      // The tag follows the last ':' that comes after the last '/' (a directory may hold ':').
      const colon = rest.lastIndexOf(':');
      if (colon > rest.lastIndexOf('/')) {
        path = rest.slice(0, colon);
        tag = rest.slice(colon + 1);
      }
    } else {
      // As skopeo: the archive's path ends at the first ':'; what follows names an image inside it.
      const colon = rest.indexOf(':');
      if (colon !== -1) {
        path = rest.slice(0, colon);
        tag = rest.slice(colon + 1);
      }
    }
    if (path === '') {
      throw new FluxError('BAD_REFERENCE', `"${input}" names no ${t === 'oci' ? 'directory' : 'file'}.`, {
        hint: `Use ${t}:${t === 'oci' ? 'DIR[:TAG]' : 'FILE'}, e.g. ${t}:./image${t === 'oci' ? ':latest' : '.tar'}.`,
        exitCode: 125,
      });
    }
    if (tag === '') tag = undefined;
    const abs = resolve(path);
    const repository = `${t}:${abs}`;
    return { kind: t, path: abs, tag, repository, canonical: tag === undefined ? repository : `${repository}:${tag}` };
  }
  const ref = parseReference(input);
  // NAME:TAG@DIGEST names the digest: as podman does, the tag is dropped and the image recorded
  // and looked up by NAME@DIGEST. Kept, it would make a name no lookup of that image matches (the
  // pull asks for the digest, and the tag may not even exist in the registry).
  if (ref.digest !== undefined) return { kind: 'registry', ref, canonical: `${ref.name}@${ref.digest}`, repository: ref.name };
  return { kind: 'registry', ref, canonical: ref.toString(), repository: ref.name, tag: ref.tag };
}
