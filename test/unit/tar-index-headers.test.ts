/**
 * The index of a `docker-archive:`/`oci-archive:` file (flux load, flux pull) reads long-name and
 * PAX headers into memory. Their size comes from the archive: a hostile one declaring gigabytes
 * made flux allocate them. Such a header is refused in one sentence before anything is allocated.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TarIndex } from '../../src/sources/tar-index.js';

const dir = mkdtempSync(join(tmpdir(), 'flux-tar-index-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One ustar header of `type` declaring `size` bytes, then `body` and the end of the archive. */
function archive(type: string, size: number, body = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(512);
  h.write('././@LongLink', 0);
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write(type, 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const padded = Buffer.alloc(Math.ceil(body.length / 512) * 512);
  body.copy(padded);
  return Buffer.concat([h, padded, Buffer.alloc(1024)]);
}

describe('the tar index of an archive', () => {
  it.each([
    ['a GNU long name', 'L'],
    ['a PAX record', 'x'],
  ])('refuses %s declaring 8 GiB, without allocating it', async (_what, type) => {
    const file = join(dir, `huge-${type}.tar`);
    writeFileSync(file, archive(type, 8 * 1024 ** 3));
    await expect(TarIndex.open(file, 'archive')).rejects.toMatchObject({
      code: 'BAD_ARCHIVE',
      message: `the archive ${file} has a tar header at byte 0 that declares a ${8 * 1024 ** 3}-byte name or PAX record, more than any archive needs or than the file holds.`,
    });
  });

  it('refuses one declaring more than the file holds', async () => {
    const file = join(dir, 'short.tar');
    writeFileSync(file, archive('L', 4096, Buffer.from('a-name')));
    await expect(TarIndex.open(file, 'archive')).rejects.toMatchObject({ code: 'BAD_ARCHIVE' });
  });

  it('reads a long name of a real size', async () => {
    const name = `dir/${'n'.repeat(300)}`;
    const file = join(dir, 'long.tar');
    const body = Buffer.from(`${name}\0`);
    const member = archive('0', 3, Buffer.from('abc')).subarray(0, 1024);
    writeFileSync(file, Buffer.concat([archive('L', body.length, body).subarray(0, 1024), member, Buffer.alloc(1024)]));
    const index = await TarIndex.open(file, 'archive');
    expect(index.has(name)).toBe(true);
    expect((await index.read(name))?.toString()).toBe('abc');
  });
});
