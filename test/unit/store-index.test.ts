import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageIndex, Store, collectGarbage, findImage, imageId, type ImageRecord } from '../../store/index.js';
import type { Digest } from '../../src/image/types.js';

const run = promisify(execFile);
const sha = (s: string | Buffer): Digest => `sha256:${createHash('sha256').update(s).digest('hex')}`;

let root: string;
let store: Store;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'flux-index-unit-'));
  store = Store.open(root);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function record(ref: string, seed: string, extra: Partial<ImageRecord> = {}): ImageRecord {
  const layer = sha(`layer-${seed}`);
  return {
    reference: ref,
    repository: ref.replace(/:[^:/]+$/, ''),
    tag: 'latest',
    manifestDigest: sha(`manifest-${seed}`),
    manifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
    platform: { os: 'linux', architecture: 'amd64' },
    configDigest: sha(`config-${seed}`),
    config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(`diff-${seed}`)] } },
    layers: [{ digest: layer, diffId: sha(`diff-${seed}`), size: 10, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }],
    size: 20,
    pulledAt: '2026-01-01T00:00:00.000Z',
    lastUsed: '2026-01-01T00:00:00.000Z',
    ...extra,
  };
}

describe('ImageIndex', () => {
  it('stores, finds and removes records by reference, digest and IMAGE ID', async () => {
    const idx = new ImageIndex(store);
    const a = record('127.0.0.1:5000/busybox:latest', 'a');
    const b = record('127.0.0.1:5000/other:1', 'b');
    await idx.put(a);
    await idx.put(b);
    expect((await idx.list()).map((r) => r.reference)).toEqual([a.reference, b.reference]);
    expect(await findImage(store, a.reference)).toEqual(a);
    expect((await findImage(store, `127.0.0.1:5000/busybox@${a.manifestDigest}`))?.reference).toBe(a.reference);
    expect((await findImage(store, `127.0.0.1:5000/busybox:latest@${a.manifestDigest}`))?.reference).toBe(a.reference);
    expect((await findImage(store, imageId(b)))?.reference).toBe(b.reference);
    expect((await findImage(store, b.configDigest))?.reference).toBe(b.reference);
    expect(await findImage(store, 'docker.io/library/nothing:latest')).toBeUndefined();
    await idx.remove([a.reference]);
    expect(await findImage(store, a.reference)).toBeUndefined();
    expect(await idx.list()).toHaveLength(1);
    // The file on disk is plain JSON that survives a reader: no temp files left behind.
    const files = readdirSync(join(root, 'index'));
    expect(files).toEqual(['images.json']);
    expect(JSON.parse(await readFile(join(root, 'index', 'images.json'), 'utf8')).version).toBe(1);
  });

  it('refuses an ambiguous IMAGE ID prefix', async () => {
    const idx = new ImageIndex(store);
    // Find two seeds whose config digests share the first hex digits.
    const seen = new Map<string, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; !pair; i++) {
      const p = sha(`config-s${i}`).slice(7, 11);
      const prev = seen.get(p);
      if (prev !== undefined) pair = [prev, `s${i}`];
      else seen.set(p, `s${i}`);
    }
    await idx.put(record('r/one:latest', pair[0]));
    await idx.put(record('r/two:latest', pair[1]));
    await expect(idx.find(sha(`config-${pair[0]}`).slice(7, 11))).rejects.toMatchObject({ code: 'AMBIGUOUS_ID' });
  });

  it('names a damaged index file and how to fix it', async () => {
    await writeFile(join(root, 'index', 'images.json'), '{"version":1,"entries":');
    await expect(new ImageIndex(store).list()).rejects.toMatchObject({ code: 'INDEX_DAMAGED', message: expect.stringContaining('images.json') });
  });

  it('loses no update when several processes write at once', async () => {
    const script = join(root, 'writer.mjs');
    const storeMod = resolve('dist/store/index.js');
    await writeFile(script, `
      import { Store, ImageIndex } from ${JSON.stringify(storeMod)};
      const [root, n] = process.argv.slice(2);
      const idx = new ImageIndex(Store.open(root));
      for (let i = 0; i < 5; i++) {
        await idx.put({ reference: 'p' + n + '/img:' + i, repository: 'p' + n + '/img', manifestDigest: 'sha256:' + '0'.repeat(64),
          configDigest: 'sha256:' + '1'.repeat(64), layers: [], config: {}, platform: {}, size: 0, pulledAt: '', lastUsed: '' });
      }
    `);
    await Promise.all([0, 1, 2, 3].map((n) => run(process.execPath, [script, root, String(n)])));
    const refs = (await new ImageIndex(store).list()).map((r) => r.reference);
    expect(refs).toHaveLength(20);
  });
});

describe('collectGarbage', () => {
  it('removes unreferenced blobs and tmp leftovers, keeps referenced ones, counts freed bytes', async () => {
    const keep = record('r/keep:latest', 'k');
    await new ImageIndex(store).put(keep);
    const payload = Buffer.alloc(10_000, 1);
    const orphan = sha(payload);
    await store.writeBlob({ digest: orphan, size: payload.length }, payload);
    for (const d of [keep.manifestDigest, keep.configDigest, keep.layers[0]!.digest]) {
      await writeFile(store.blobPath(d), 'x');
    }
    await writeFile(join(root, 'tmp', `${'a'.repeat(64)}.partial`), Buffer.alloc(5000));
    await mkdir(store.layerPath(sha('orphan-layer')), { recursive: true });
    await mkdir(store.layerPath(keep.layers[0]!.diffId), { recursive: true });
    const removed: Digest[][] = [];
    const r = await collectGarbage(store, {
      removeLayers: async (d) => {
        removed.push(d);
        for (const x of d) await rm(store.layerPath(x), { recursive: true });
      },
      sweepTmp: true,
    });
    expect(r.blobs).toBe(1);
    expect(r.layers).toBe(1);
    expect(removed).toEqual([[sha('orphan-layer')]]);
    expect(r.tmpEntries).toBe(1);
    expect(r.freedBytes).toBeGreaterThanOrEqual(15_000);
    expect(existsSync(store.blobPath(orphan))).toBe(false);
    expect(existsSync(store.blobPath(keep.configDigest))).toBe(true);
    expect(existsSync(store.layerPath(keep.layers[0]!.diffId))).toBe(true);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });
});
