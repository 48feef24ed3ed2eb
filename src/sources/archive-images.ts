/**
 * The images an archive holds, each with the source to read it from and the name it came with:
 * what `flux load` stores. An archive with an OCI index.json (oci-archive, and docker archives
 * from Docker 25 and flux) is read through it, so manifests keep their bytes and digests; a
 * classic `docker save` or `podman save` archive through its manifest.json.
 */
import type { ImageSource } from '../image/types.js';
import { parseReference } from '../image/reference.js';
import { FluxError } from '../errors.js';
import { DockerArchiveSource } from './docker-archive.js';
import { OciLayoutSource } from './oci-layout.js';
import { tarFiles } from './layout-files.js';
import { parseSourceSpec } from './spec.js';
import { TarIndex } from './tar-index.js';

const REF_NAME = 'org.opencontainers.image.ref.name';
const FULL_NAME = 'io.containerd.image.name';

export interface ArchivedImage {
  source: ImageSource;
  /** A digest or tag `source` knows the image by; undefined when it holds only this one. */
  first?: string;
  /** Canonical name to record it under, with its repository and tag. */
  reference: string;
  repository: string;
  tag?: string;
}

/** A registry name as the image index keys it, or undefined for a bare tag or nothing usable. */
function registryName(n: string | undefined): { canonical: string; repository: string; tag?: string } | undefined {
  // A bare `latest` would read as docker.io/library/latest: only a name with a '/' or ':' is one.
  if (n === undefined || !/[/:]/.test(n)) return undefined;
  try {
    const ref = parseReference(n);
    if (ref.digest !== undefined) return undefined;
    return { canonical: ref.toString(), repository: ref.name, ...(ref.tag !== undefined ? { tag: ref.tag } : {}) };
  } catch {
    return undefined;
  }
}

/** An image without a registry name is recorded as `flux pull oci-archive:FILE[:TAG]` would record it. */
function sourceName(transport: 'oci-archive' | 'docker-archive', file: string, tag: string | undefined): { canonical: string; repository: string; tag?: string } {
  const spec = parseSourceSpec(`${transport}:${file}${tag !== undefined ? `:${tag}` : ''}`);
  return { canonical: spec.canonical, repository: spec.repository, ...(spec.tag !== undefined ? { tag: spec.tag } : {}) };
}

function broken(file: string, what: string): FluxError {
  return new FluxError('BAD_ARCHIVE', `${file} is not an image archive: ${what}.`, {
    hint: 'Give a file written by `flux save`, `podman save`, `docker save` or `skopeo copy … docker-archive:|oci-archive:`.',
    exitCode: 125,
  });
}

export async function archiveImages(file: string): Promise<ArchivedImage[]> {
  const tar = await TarIndex.open(file, 'image archive');
  const out: ArchivedImage[] = [];
  const indexJson = await tar.read('index.json');
  if (indexJson) {
    let entries: Array<{ digest?: unknown; annotations?: Record<string, string> }>;
    try {
      entries = (JSON.parse(indexJson.toString('utf8')) as { manifests?: typeof entries }).manifests ?? [];
    } catch {
      throw broken(file, 'its index.json is not JSON');
    }
    if (!Array.isArray(entries) || entries.length === 0) throw broken(file, 'its index.json lists no images');
    const source = new OciLayoutSource(`oci-archive:${file}`, tarFiles(tar), undefined);
    for (const e of entries) {
      if (typeof e !== 'object' || e === null || typeof e.digest !== 'string') throw broken(file, 'an entry of its index.json has no digest');
      const ann = e.annotations ?? {};
      const name = registryName(ann[FULL_NAME]) ?? registryName(ann[REF_NAME]) ?? sourceName('oci-archive', file, ann[REF_NAME]);
      out.push({ source, first: e.digest, reference: name.canonical, repository: name.repository, ...(name.tag !== undefined ? { tag: name.tag } : {}) });
    }
    return out;
  }
  const manifestJson = await tar.read('manifest.json');
  if (!manifestJson) throw broken(file, 'it has neither an index.json nor a manifest.json');
  let list: Array<{ RepoTags?: unknown }>;
  try {
    list = JSON.parse(manifestJson.toString('utf8')) as typeof list;
  } catch {
    throw broken(file, 'its manifest.json is not JSON');
  }
  if (!Array.isArray(list) || list.length === 0) throw broken(file, 'its manifest.json lists no images');
  for (const entry of list) {
    const tags = Array.isArray(entry?.RepoTags) ? (entry.RepoTags as unknown[]).filter((t): t is string => typeof t === 'string') : [];
    if (tags.length === 0) {
      if (list.length > 1) throw broken(file, 'an image of several in its manifest.json has no name');
      const name = sourceName('docker-archive', file, undefined);
      out.push({ source: await DockerArchiveSource.open(file, undefined, `docker-archive:${file}`), reference: name.canonical, repository: name.repository });
      continue;
    }
    for (const t of tags) {
      const name = registryName(t) ?? registryName(`${t}:latest`);
      if (!name) throw broken(file, `its manifest.json names an image "${t.slice(0, 80)}", which is not a valid reference`);
      out.push({ source: await DockerArchiveSource.open(file, t, `docker-archive:${file}:${t}`), reference: name.canonical, repository: name.repository, ...(name.tag !== undefined ? { tag: name.tag } : {}) });
    }
  }
  return out;
}
