import { describe, expect, it } from 'vitest';
import { MANIFEST_ACCEPT, layerCompression, parseManifest } from '../../src/image/manifest.js';
import { assertDigest, digestHex, isDigest } from '../../src/image/digest.js';
import { sha256Digest } from '../../src/image/sha256.js';
import { FluxError } from '../../src/errors.js';
import { MEDIA, type RawManifest } from '../../src/image/types.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const D3 = `sha256:${'3'.repeat(64)}`;

function raw(body: unknown, mediaType: string): RawManifest {
  const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { bytes, mediaType, digest: sha256Digest(bytes) };
}
function image(extra: Record<string, unknown> = {}, layerType: string = MEDIA.ociLayerGzip) {
  return {
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociConfig, digest: D1, size: 10 },
    layers: [{ mediaType: layerType, digest: D2, size: 20 }],
    ...extra,
  };
}
function code(f: () => unknown): string | undefined {
  try { f(); } catch (e) { if (e instanceof FluxError) return e.code; throw e; }
  return undefined;
}

describe('digests', () => {
  it('accepts exactly sha256 + 64 lowercase hex', () => {
    expect(isDigest(D1)).toBe(true);
    expect(isDigest(`sha256:${'A'.repeat(64)}`)).toBe(false);
    expect(isDigest(`sha256:${'a'.repeat(63)}`)).toBe(false);
    expect(isDigest(`sha256:${'a'.repeat(65)}`)).toBe(false);
    expect(isDigest(`sha512:${'a'.repeat(64)}`)).toBe(false);
    expect(isDigest('sha256:../../x')).toBe(false);
    expect(isDigest(`${D1}\n`)).toBe(false);
    expect(digestHex(D1 as never)).toBe('1'.repeat(64));
    expect(sha256Digest('')).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(() => assertDigest('sha256:../x', 'layer digest')).toThrow(/layer digest "sha256:..\/x" is not a valid sha256 digest/);
  });
});

describe('parseManifest', () => {
  it('accepts an OCI image manifest', () => {
    const m = parseManifest(raw(image(), MEDIA.ociManifest));
    expect(m.kind).toBe('image');
    if (m.kind === 'image') {
      expect(m.manifest.layers[0]?.digest).toBe(D2);
      expect(m.manifest.config.digest).toBe(D1);
    }
  });

  it('accepts a Docker schema2 manifest with charset in the Content-Type', () => {
    const m = parseManifest(raw(image({ mediaType: MEDIA.dockerManifest, config: { mediaType: MEDIA.dockerConfig, digest: D1, size: 1 } }, MEDIA.dockerLayerGzip), `${MEDIA.dockerManifest}; charset=utf-8`));
    expect(m.kind).toBe('image');
  });

  it('infers the type from a generic Content-Type', () => {
    expect(parseManifest(raw(image({ mediaType: undefined }), 'application/json')).kind).toBe('image');
    expect(parseManifest(raw({ schemaVersion: 2, manifests: [] }, '')).kind).toBe('index');
  });

  it('accepts an index and skips entries of unknown media types', () => {
    const idx = {
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: [
        { mediaType: 'application/vnd.example.sbom', digest: 'not-a-digest', size: 1 },
        { mediaType: MEDIA.ociManifest, digest: D1, size: 5, platform: { os: 'linux', architecture: 'amd64' } },
        { mediaType: MEDIA.dockerManifest, digest: D2, size: 6, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      ],
    };
    const m = parseManifest(raw(idx, MEDIA.ociIndex));
    expect(m.kind).toBe('index');
    if (m.kind === 'index') expect(m.index.manifests.map((x) => x.digest)).toEqual([D1, D2]);
  });

  it('refuses a body mediaType that disagrees with the Content-Type', () => {
    expect(code(() => parseManifest(raw(image(), MEDIA.ociIndex)))).toBe('MEDIA_TYPE_MISMATCH');
    expect(code(() => parseManifest(raw({ ...image(), mediaType: MEDIA.dockerManifest }, MEDIA.ociManifest)))).toBe('MEDIA_TYPE_MISMATCH');
  });

  it('refuses an index served as an image manifest (no manifests/layers confusion)', () => {
    expect(code(() => parseManifest(raw({ schemaVersion: 2, manifests: [] }, MEDIA.ociManifest)))).toBe('BAD_MANIFEST');
    expect(code(() => parseManifest(raw({ ...image(), manifests: [] }, MEDIA.ociManifest)))).toBe('BAD_MANIFEST');
  });

  it.each([
    ['sha256:../../x'],
    [`sha256:${'A'.repeat(64)}`],
    ['sha256:abc'],
    [`sha512:${'a'.repeat(128)}`],
    [42],
  ])('refuses the layer digest %j (CVE-2024-3727)', (digest) => {
    const m = image({ layers: [{ mediaType: MEDIA.ociLayerGzip, digest, size: 1 }] });
    expect(code(() => parseManifest(raw(m, MEDIA.ociManifest)))).toBe('BAD_DIGEST');
  });

  it('refuses bad digests of known index entries', () => {
    const idx = { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [{ mediaType: MEDIA.ociManifest, digest: 'sha256:../../../etc', size: 1 }] };
    expect(code(() => parseManifest(raw(idx, MEDIA.ociIndex)))).toBe('BAD_DIGEST');
  });

  it('refuses bad sizes, schema versions, JSON, schema 1, unknown types', () => {
    expect(code(() => parseManifest(raw(image({ layers: [{ mediaType: MEDIA.ociLayerGzip, digest: D2, size: -1 }] }), MEDIA.ociManifest)))).toBe('BAD_MANIFEST');
    expect(code(() => parseManifest(raw(image({ layers: [{ mediaType: MEDIA.ociLayerGzip, digest: D2, size: '1' }] }), MEDIA.ociManifest)))).toBe('BAD_MANIFEST');
    expect(code(() => parseManifest(raw(image({ schemaVersion: 3 }), MEDIA.ociManifest)))).toBe('BAD_MANIFEST');
    expect(code(() => parseManifest(raw('{not json', MEDIA.ociManifest)))).toBe('BAD_MANIFEST');
    expect(code(() => parseManifest(raw({ schemaVersion: 1, name: 'x' }, 'application/vnd.docker.distribution.manifest.v1+prettyjws')))).toBe('UNSUPPORTED_MANIFEST');
    expect(code(() => parseManifest(raw(image(), 'application/vnd.example+json')))).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(code(() => parseManifest(raw(image({}, 'application/vnd.example.layer'), MEDIA.ociManifest)))).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(code(() => parseManifest(raw(image({ config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: D3, size: 1 } }), MEDIA.ociManifest)))).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses a manifest over the size bound', () => {
    const big = image({ annotations: { pad: 'x'.repeat(4 * 1024 * 1024) } });
    expect(code(() => parseManifest(raw(big, MEDIA.ociManifest)))).toBe('MANIFEST_TOO_LARGE');
    expect(code(() => parseManifest(raw(image(), MEDIA.ociManifest), { maxBytes: 10 }))).toBe('MANIFEST_TOO_LARGE');
  });

  it('maps layer media types to compressions', () => {
    expect(layerCompression(MEDIA.ociLayerGzip)).toBe('gzip');
    expect(layerCompression(MEDIA.dockerLayerGzip)).toBe('gzip');
    expect(layerCompression(MEDIA.ociLayerZstd)).toBe('zstd');
    expect(layerCompression(MEDIA.ociLayer)).toBe('none');
    expect(() => layerCompression('application/x-tar+bzip2')).toThrow(FluxError);
    expect(() => layerCompression('constructor')).toThrow(FluxError);
  });

  it('accepts every manifest type', () => {
    for (const t of [MEDIA.ociIndex, MEDIA.dockerManifestList, MEDIA.ociManifest, MEDIA.dockerManifest]) expect(MANIFEST_ACCEPT).toContain(t);
  });
});
