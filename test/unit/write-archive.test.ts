/** The metadata files `flux save` writes: docker's manifest.json and the OCI index.json. Pure. */
import { describe, expect, it } from 'vitest';
import { dockerManifestJson, indexJson, type ArchiveImage } from '../../src/sources/write-archive.js';
import type { Digest } from '../../src/image/types.js';

const d = (c: string): Digest => `sha256:${c.repeat(64)}` as Digest;
const img: ArchiveImage = {
  manifestDigest: d('a'),
  manifestMediaType: 'application/vnd.docker.distribution.manifest.v2+json',
  configDigest: d('b'),
  layers: [d('c'), d('e')],
  names: ['docker.io/library/alpine:3.20', 'localhost:5000/team/app:1'],
};

describe('archive metadata', () => {
  it('lists each name of an image in manifest.json, with blobs/sha256 paths', () => {
    expect(JSON.parse(dockerManifestJson([img]).toString())).toEqual([{
      Config: `blobs/sha256/${'b'.repeat(64)}`,
      RepoTags: ['docker.io/library/alpine:3.20', 'localhost:5000/team/app:1'],
      Layers: [`blobs/sha256/${'c'.repeat(64)}`, `blobs/sha256/${'e'.repeat(64)}`],
    }]);
  });

  it('gives index.json one entry per name: the full name and the tag (after a registry port too)', () => {
    const index = JSON.parse(indexJson([img], () => 123).toString()) as { manifests: Array<{ digest: string; size: number; mediaType: string; annotations: Record<string, string> }> };
    expect(index.manifests.map((m) => [m.digest, m.size, m.mediaType])).toEqual([
      [d('a'), 123, img.manifestMediaType],
      [d('a'), 123, img.manifestMediaType],
    ]);
    expect(index.manifests.map((m) => m.annotations)).toEqual([
      { 'io.containerd.image.name': 'docker.io/library/alpine:3.20', 'org.opencontainers.image.ref.name': '3.20' },
      { 'io.containerd.image.name': 'localhost:5000/team/app:1', 'org.opencontainers.image.ref.name': '1' },
    ]);
  });

  it('writes an image saved by ID without names or annotations', () => {
    const index = JSON.parse(indexJson([{ ...img, names: [] }], () => 9).toString()) as { manifests: Array<Record<string, unknown>> };
    expect(index.manifests).toEqual([{ mediaType: img.manifestMediaType, digest: d('a'), size: 9 }]);
    expect(JSON.parse(dockerManifestJson([{ ...img, names: [] }]).toString())[0].RepoTags).toEqual([]);
  });
});
