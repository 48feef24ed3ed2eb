import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { compress as zstdCompress } from 'zstd-napi';
import { sha256Digest } from '../../src/image/sha256.js';
import type { Digest } from '../../src/image/types.js';
import { applyLayer } from '../../store/unpack/apply-layer.js';
import { compressionOfMagic, compressionOfMediaType } from '../../store/unpack/compression.js';
import type { LayerFs } from '../../store/unpack/layer-fs.js';
import { makeTar, truncatedTar } from '../../fixtures/hostile/build.mjs';

/** Parsers and error paths only: no device nodes or xattrs are needed here. */
const fakeFs: LayerFs = {
  mknod: () => {
    throw Object.assign(new Error('EPERM'), { code: 'EPERM' });
  },
  lsetxattr: () => undefined,
  lgetxattr: () => undefined,
};

const dirs: string[] = [];
async function emptyDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'flux-unpack-unit-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('compression from the media type', () => {
  it.each([
    ['application/vnd.oci.image.layer.v1.tar', 'none'],
    ['application/vnd.oci.image.layer.v1.tar+gzip', 'gzip'],
    ['application/vnd.oci.image.layer.v1.tar+zstd', 'zstd'],
    ['application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'gzip'],
    ['application/vnd.oci.image.layer.nondistributable.v1.tar+zstd', 'zstd'],
    ['application/vnd.docker.image.rootfs.diff.tar.gzip', 'gzip'],
    ['application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', 'gzip'],
    ['application/vnd.oci.image.config.v1+json', undefined],
    ['text/plain', undefined],
  ])('%s → %s', (mt, want) => {
    expect(compressionOfMediaType(mt)).toBe(want);
  });
});

describe('compression from the magic bytes', () => {
  it('tells gzip, zstd and plain tar apart', () => {
    expect(compressionOfMagic(Buffer.from([0x1f, 0x8b, 8, 0]))).toBe('gzip');
    expect(compressionOfMagic(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(compressionOfMagic(Buffer.from('etc/passwd'))).toBe('none');
    expect(compressionOfMagic(Buffer.alloc(0))).toBe('none');
  });
});

describe('applyLayer: one pass, checked against media type, magic and diff_id', () => {
  const entries = [
    { name: 'etc', type: 'directory' as const },
    { name: 'etc/hello', content: 'hello\n' },
  ];

  for (const [mediaType, pack] of [
    ['application/vnd.oci.image.layer.v1.tar', (b: Buffer) => b],
    ['application/vnd.oci.image.layer.v1.tar+gzip', (b: Buffer) => gzipSync(b)],
    ['application/vnd.oci.image.layer.v1.tar+zstd', (b: Buffer) => zstdCompress(b)],
  ] as const) {
    it(`unpacks ${mediaType} and reports its diff_id`, async () => {
      const tar = await makeTar(entries);
      const dir = await emptyDir();
      const r = await applyLayer(Readable.from([pack(tar)]), { dir, mediaType, expectedDiffId: sha256Digest(tar), userXattr: true, fs: fakeFs });
      expect(r).toEqual({ diffId: sha256Digest(tar), size: 6, files: 2, opaque: [] });
      expect(await readdir(join(dir, 'etc'))).toEqual(['hello']);
    });
  }

  it('refuses a gzip media type on a zstd blob and removes the directory', async () => {
    const tar = await makeTar(entries);
    const dir = await emptyDir();
    await expect(
      applyLayer(Readable.from([zstdCompress(tar)]), { dir, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', expectedDiffId: sha256Digest(tar), userXattr: true, fs: fakeFs }),
    ).rejects.toMatchObject({ code: 'LAYER_COMPRESSION', message: expect.stringMatching(/declared as .*\+gzip \(gzip-compressed\) is actually zstd-compressed/) });
    await expect(readdir(dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses an uncompressed media type on a gzip blob', async () => {
    const tar = await makeTar(entries);
    await expect(
      applyLayer(Readable.from([gzipSync(tar)]), { dir: await emptyDir(), mediaType: 'application/vnd.oci.image.layer.v1.tar', expectedDiffId: sha256Digest(tar), userXattr: true, fs: fakeFs }),
    ).rejects.toMatchObject({ code: 'LAYER_COMPRESSION' });
  });

  it('refuses an unknown media type', async () => {
    await expect(
      applyLayer(Readable.from([Buffer.alloc(1024)]), { dir: await emptyDir(), mediaType: 'application/x-rar', expectedDiffId: sha256Digest(''), userXattr: true, fs: fakeFs }),
    ).rejects.toMatchObject({ code: 'LAYER_MEDIA_TYPE' });
  });

  it('discards the layer when the diff_id does not match', async () => {
    const tar = await makeTar(entries);
    const dir = await emptyDir();
    const wrong: Digest = sha256Digest('something else');
    await expect(
      applyLayer(Readable.from([gzipSync(tar)]), { dir, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', expectedDiffId: wrong, userXattr: true, fs: fakeFs }),
    ).rejects.toMatchObject({ code: 'DIFF_ID_MISMATCH', message: expect.stringContaining(wrong) });
    await expect(readdir(dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a truncated tar even when its diff_id matches', async () => {
    const tar = await truncatedTar();
    const dir = await emptyDir();
    await expect(
      applyLayer(Readable.from([gzipSync(tar)]), { dir, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', expectedDiffId: sha256Digest(tar), userXattr: true, fs: fakeFs }),
    ).rejects.toMatchObject({ code: 'LAYER_CORRUPT' });
    await expect(readdir(dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a truncated gzip stream', async () => {
    const tar = await makeTar(entries);
    const gz = gzipSync(tar);
    await expect(
      applyLayer(Readable.from([gz.subarray(0, gz.length - 12)]), { dir: await emptyDir(), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', expectedDiffId: sha256Digest(tar), userXattr: true, fs: fakeFs }),
    ).rejects.toMatchObject({ code: 'LAYER_CORRUPT' });
  });
});
