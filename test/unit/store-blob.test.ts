import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store } from '../../store/index.js';
import type { Digest } from '../../src/image/types.js';

const sha = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let root: string;
let store: Store;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'flux-store-unit-'));
  store = Store.open(root);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function chunks(buf: Buffer, size = 1000): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
}

describe('Store.writeBlob', () => {
  const data = Buffer.from('x'.repeat(5000) + 'tail');
  const desc = { digest: sha(data), size: data.length };

  it('creates the layout and stores a verified blob under its digest', async () => {
    for (const d of ['blobs/sha256', 'layers/sha256', 'tmp', 'locks', 'index', 'runs']) expect(existsSync(join(root, d))).toBe(true);
    const r = await store.writeBlob(desc, chunks(data));
    expect(r).toMatchObject({ fetched: data.length, existed: false });
    const onDisk = readFileSync(store.blobPath(desc.digest));
    expect(sha(onDisk)).toBe(desc.digest);
    expect(await store.hasBlob(desc.digest, desc.size)).toBe(true);
    expect(await store.hasBlob(desc.digest, desc.size + 1)).toBe(false);
    const again = await store.writeBlob(desc, () => {
      throw new Error('must not be called for a complete blob');
    });
    expect(again).toMatchObject({ fetched: 0, existed: true });
  });

  it('refuses bytes that do not match the digest and keeps nothing', async () => {
    const bad = Buffer.from(data);
    bad[10] = 0x41;
    await expect(store.writeBlob(desc, chunks(bad))).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    await expect(store.writeBlob(desc, bad)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(existsSync(store.blobPath(desc.digest))).toBe(false);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('refuses a blob longer than its descriptor (padding) and keeps nothing', async () => {
    const padded = Buffer.concat([data, Buffer.from('pad')]);
    await expect(store.writeBlob(desc, async () => chunks(padded))).rejects.toMatchObject({ code: 'BLOB_TOO_LARGE' });
    expect(existsSync(store.blobPath(desc.digest))).toBe(false);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('keeps a truncated download and resumes it from where it stopped', async () => {
    const half = data.subarray(0, 3000);
    await expect(store.writeBlob(desc, async (off) => chunks(data.subarray(off, off + 3000)))).rejects.toMatchObject({ code: 'BLOB_TRUNCATED' });
    expect(existsSync(store.blobPath(desc.digest))).toBe(false);
    const partial = join(root, 'tmp', `${desc.digest.slice(7)}.partial`);
    expect(readFileSync(partial)).toEqual(half);
    const offsets: number[] = [];
    const r = await store.writeBlob(desc, async (off) => {
      offsets.push(off);
      return chunks(data.subarray(off));
    });
    expect(offsets).toEqual([3000]);
    expect(r).toMatchObject({ fetched: data.length - 3000, resumed: 3000, existed: false });
    expect(sha(readFileSync(store.blobPath(desc.digest)))).toBe(desc.digest);
    expect(existsSync(partial)).toBe(false);
  });

  it('starts over once when a kept prefix turns out to be wrong', async () => {
    const partial = join(root, 'tmp', `${desc.digest.slice(7)}.partial`);
    await writeFile(partial, Buffer.from('garbage'));
    const offsets: number[] = [];
    await store.writeBlob(desc, async (off) => {
      offsets.push(off);
      return chunks(data.subarray(off));
    });
    expect(offsets).toEqual([7, 0]);
    expect(sha(readFileSync(store.blobPath(desc.digest)))).toBe(desc.digest);
  });

  it('fetches a blob once when several writers want it at the same time', async () => {
    let calls = 0;
    const src = async (off: number) => {
      calls++;
      await new Promise((r) => setTimeout(r, 50));
      return chunks(data.subarray(off));
    };
    const results = await Promise.all([store.writeBlob(desc, src), store.writeBlob(desc, src), store.writeBlob(desc, src)]);
    expect(calls).toBe(1);
    expect(results.filter((r) => !r.existed)).toHaveLength(1);
  });

  it('hands over a blob fetched whole once its digest verified, before it is stored, and never a bad or resumed one', async () => {
    const seen: Array<{ bytes: Buffer; storedYet: boolean }> = [];
    const onVerified = (bytes: Buffer): void => void seen.push({ bytes, storedYet: existsSync(store.blobPath(desc.digest)) });
    await store.writeBlob(desc, async () => chunks(data), { onVerified });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.bytes.equals(data)).toBe(true);
    expect(seen[0]!.storedYet).toBe(false);
    expect(existsSync(store.blobPath(desc.digest))).toBe(true);

    // Bytes that do not match the digest are never handed over.
    const other = Buffer.from('y'.repeat(100));
    const otherDesc = { digest: sha(other), size: other.length };
    const bad = Buffer.from(other);
    bad[3] = 0x7a;
    const got: Buffer[] = [];
    await expect(store.writeBlob(otherDesc, async () => chunks(bad), { onVerified: (b) => void got.push(b) })).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(got).toEqual([]);

    // A resumed download is not handed over (only its tail was fetched).
    await writeFile(join(root, 'tmp', `${otherDesc.digest.slice(7)}.partial`), other.subarray(0, 40));
    await store.writeBlob(otherDesc, async (offset) => chunks(other.subarray(offset)), { onVerified: (b) => void got.push(b) });
    expect(got).toEqual([]);
    expect(await store.hasBlob(otherDesc.digest, otherDesc.size)).toBe(true);
  });

  it('never turns an invalid digest into a path', async () => {
    const evil = { digest: 'sha256:../../../etc/passwd' as Digest, size: 1 };
    await expect(store.writeBlob(evil, Buffer.from('x'))).rejects.toMatchObject({ code: 'BAD_DIGEST' });
    expect(() => store.blobPath('sha256:ABC' as Digest)).toThrow(/not a valid sha256 digest/);
    expect(() => store.layerPath('sha512:00' as Digest)).toThrow(/not a valid sha256 digest/);
  });

  it('reads blobs back and says which blob is missing', async () => {
    const json = Buffer.from('{"a":1}');
    await store.writeBlob({ digest: sha(json), size: json.length }, json);
    expect(await store.readJson(sha(json))).toEqual({ a: 1 });
    await expect(store.readBlob(sha(Buffer.from('nope')))).rejects.toMatchObject({ code: 'BLOB_MISSING' });
    expect((await stat(store.blobPath(sha(json)))).size).toBe(json.length);
  });
});
