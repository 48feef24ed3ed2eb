/**
 * Entry semantics of one layer, unpacked in-process as real root (trusted.overlay.* markers):
 * whiteouts never hide the layer's own files whatever the order, entries replace each other as
 * the image spec says, special files and binary xattrs survive.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTar } from '../../fixtures/hostile/build.mjs';
import { sha256Digest } from '../../src/image/sha256.js';
import { lgetxattr, nativeLayerFs } from '../../src/native/ffi.js';
import { applyLayer, type ApplyLayerResult } from '../../store/unpack/apply-layer.js';
import type { LayerFs } from '../../store/unpack/layer-fs.js';
import { isRoot } from '../helpers/user.js';

let work: string;
let fs: LayerFs;
beforeAll(async () => {
  work = mkdtempSync('/tmp/flux-entries-');
  fs = await nativeLayerFs();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Entry = Parameters<typeof makeTar>[0][number];
let n = 0;
async function unpack(entries: Entry[], warnings: string[] = []): Promise<{ dir: string; r: ApplyLayerResult }> {
  const tar = await makeTar(entries);
  const dir = join(work, `l${n++}`);
  execFileSync('mkdir', [dir]);
  const r = await applyLayer(Readable.from([gzipSync(tar)]), {
    dir, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', expectedDiffId: sha256Digest(tar), userXattr: false, fs,
    onWarning: (m) => warnings.push(m),
  });
  return { dir, r };
}
const isWhiteout = (p: string) => {
  const st = lstatSync(p);
  return st.isCharacterDevice() && st.rdev === 0;
};
const opaque = (p: string) => lgetxattr(p, 'trusted.overlay.opaque')?.toString();

describe.skipIf(!isRoot)('layer entries, in-process as real root', () => {
  it('a whiteout before the layer\'s own file of that name: the file wins', async () => {
    const { dir } = await unpack([{ name: 'a/.wh.f', content: '' }, { name: 'a/f', content: 'mine\n' }]);
    expect(readFileSync(join(dir, 'a/f'), 'utf8')).toBe('mine\n');
  });

  it('a whiteout after the layer\'s own file of that name: the file stays', async () => {
    const { dir } = await unpack([{ name: 'a/f', content: 'mine\n' }, { name: 'a/.wh.f', content: '' }]);
    expect(readFileSync(join(dir, 'a/f'), 'utf8')).toBe('mine\n');
  });

  it('a whiteout of a directory the layer then fills: the new directory is opaque', async () => {
    const { dir, r } = await unpack([{ name: '.wh.d', content: '' }, { name: 'd/new', content: 'new\n' }]);
    expect(lstatSync(join(dir, 'd')).isDirectory()).toBe(true);
    expect(opaque(join(dir, 'd'))).toBe('y');
    // Recorded for the layer's info file too (a run reads /etc/passwd without reading xattrs).
    expect(r.opaque).toEqual(['d']);
    expect(readdirSync(join(dir, 'd'))).toEqual(['new']);
  });

  it('a whiteout of a directory the layer already wrote: opaque, contents kept', async () => {
    const { dir } = await unpack([{ name: 'd', type: 'directory' }, { name: 'd/new', content: 'n\n' }, { name: '.wh.d', content: '' }]);
    expect(opaque(join(dir, 'd'))).toBe('y');
    expect(readdirSync(join(dir, 'd'))).toEqual(['new']);
  });

  it('a plain whiteout is a 0/0 character device and the .wh. entry itself never appears', async () => {
    const { dir, r } = await unpack([{ name: 'etc', type: 'directory' }, { name: 'etc/.wh.motd', content: '' }, { name: 'etc/.wh..wh..opq', content: '' }]);
    expect(isWhiteout(join(dir, 'etc/motd'))).toBe(true);
    expect(opaque(join(dir, 'etc'))).toBe('y');
    expect(r.opaque).toEqual(['etc']);
    expect(readdirSync(join(dir, 'etc'))).toEqual(['motd']);
  });

  it('an opaque marker in a directory not listed before creates it', async () => {
    const { dir } = await unpack([{ name: 'x/y/.wh..wh..opq', content: '' }]);
    expect(opaque(join(dir, 'x/y'))).toBe('y');
    expect(opaque(join(dir, 'x'))).toBeUndefined();
  });

  it('entries replace each other: file over directory, directory over file, directories merge', async () => {
    const { dir } = await unpack([
      { name: 'p/q', content: 'gone\n' },
      { name: 'p', content: 'now a file\n' },
      { name: 'f', content: 'gone\n' },
      { name: 'f', type: 'directory', mode: 0o700 },
      { name: 'm', type: 'directory', mode: 0o755 },
      { name: 'm/one', content: '1\n' },
      { name: 'm', type: 'directory', mode: 0o711 },
    ]);
    expect(readFileSync(join(dir, 'p'), 'utf8')).toBe('now a file\n');
    expect(lstatSync(join(dir, 'f')).isDirectory()).toBe(true);
    expect(lstatSync(join(dir, 'f')).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(dir, 'm'))).toEqual(['one']);
    expect(lstatSync(join(dir, 'm')).mode & 0o777).toBe(0o711);
  });

  it('fifos and device nodes are created as root', async () => {
    const { dir } = await unpack([
      { name: 'dev', type: 'directory' },
      { name: 'dev/fifo', type: 'fifo', mode: 0o640 },
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/loop0', type: 'block-device', devmajor: 7, devminor: 0, mode: 0o660 },
    ]);
    expect(lstatSync(join(dir, 'dev/fifo')).isFIFO()).toBe(true);
    expect(lstatSync(join(dir, 'dev/fifo')).mode & 0o777).toBe(0o640);
    const nul = lstatSync(join(dir, 'dev/null'));
    expect(nul.isCharacterDevice()).toBe(true);
    expect(nul.rdev).toBe(0x103);
    expect(lstatSync(join(dir, 'dev/loop0')).isBlockDevice()).toBe(true);
  });

  it('PAX xattrs are set byte for byte, security.capability included, after chown', async () => {
    // VFS_CAP_REVISION_2, cap_net_raw permitted+effective.
    const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
    const { dir } = await unpack([
      { name: 'ping', content: '#!/bin/sh\n', mode: 0o755, uid: 1000, gid: 1000, pax: { 'SCHILY.xattr.security.capability': cap.toString('latin1'), 'SCHILY.xattr.user.note': 'hello' } } as Entry,
    ]);
    expect(lgetxattr(join(dir, 'ping'), 'security.capability')).toEqual(cap);
    expect(lgetxattr(join(dir, 'ping'), 'user.note')?.toString()).toBe('hello');
    expect(lstatSync(join(dir, 'ping')).uid).toBe(1000);
  });

  it('hard links within the layer share the inode; a link to a later-replaced file keeps the old content', async () => {
    const { dir } = await unpack([
      { name: 'a', content: 'old\n' },
      { name: 'b', type: 'link', linkname: 'a' },
      { name: 'c', type: 'link', linkname: './a' },
      { name: 'a', content: 'new\n' },
    ]);
    expect(lstatSync(join(dir, 'b')).ino).toBe(lstatSync(join(dir, 'c')).ino);
    expect(readFileSync(join(dir, 'b'), 'utf8')).toBe('old\n');
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('new\n');
  });

  it('reports the bytes and entries it wrote', async () => {
    const { r } = await unpack([{ name: 'd', type: 'directory' }, { name: 'd/x', content: '12345' }, { name: 'd/y', content: 'abc' }]);
    expect(r.size).toBe(8);
    expect(r.files).toBe(3);
  });
});
