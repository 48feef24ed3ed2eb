/**
 * A layer is unpacked from its blob's bytes as they arrive, before the blob is complete; it
 * reaches layers/ only once the blob's digest has verified. A blob whose digest is wrong while
 * its tar is fine (only the gzip header's timestamp differs) leaves no layer and no unpack
 * directory and fails with the digest's error; a download cut midway resumes on the next pull and
 * unpacks right.
 */
import { existsSync, lstatSync, readFileSync, readdirSync, statSync } from 'node:fs';
import type http from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureInfo, pushFixtures, type FixtureSummary } from '../helpers/fixtures.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { requireTool } from '../helpers/require.js';
import { removeStore, runFlux, tempStore } from '../helpers/user.js';

requireTool('docker-registry');
requireTool('skopeo');

let reg: Registry;
let fx: FixtureSummary;
let layer: { digest: string; size: number };
let bytes: Buffer;
/**
 * What the registry does with the layer's blob: serve it; send its first half with the gzip
 * header's mtime changed, hold the rest until released; or send its first half and drop the
 * connection.
 */
let mode: 'pass' | 'half-then-tampered-header' | 'cut' = 'pass';
let release: (() => void) | undefined;
let halfSent = false;
const stores: string[] = [];

function unpackDirs(store: string): string[] {
  const tmp = join(store, 'tmp');
  return existsSync(tmp) ? readdirSync(tmp).filter((n) => n.startsWith('unpack-')).map((n) => join(tmp, n)) : [];
}

function layerDirs(store: string): string[] {
  const dir = join(store, 'layers', 'sha256');
  return existsSync(dir) ? readdirSync(dir) : [];
}

beforeAll(async () => {
  fx = await fixtureInfo('busybox');
  layer = fx.layers![0]!;
  expect(fx.layers![0]!.mediaType).toMatch(/gzip/);
  bytes = readFileSync(join(fx.dir, 'blobs', 'sha256', layer.digest.slice(7)));
  reg = await startRegistry({
    intercept: async (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (mode === 'pass' || req.method !== 'GET' || !req.url?.includes(`/blobs/${layer.digest}`)) return false;
      const body = Buffer.from(bytes);
      const half = body.length >> 1;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(layer.size), 'docker-content-digest': layer.digest });
      if (mode === 'cut') {
        res.write(body.subarray(0, half));
        await sleep(100);
        res.destroy();
        return true;
      }
      // gzip's MTIME field (bytes 4–7) is outside what the layer decompresses to: the tar and
      // its diff_id are unchanged, the blob's digest is not.
      body[4]! ^= 0xff;
      res.write(body.subarray(0, half));
      halfSent = true;
      await new Promise<void>((r) => (release = r));
      res.end(body.subarray(half));
      return true;
    },
  });
  await pushFixtures(reg, ['busybox']);
});

afterAll(async () => {
  release?.();
  await reg?.stop();
  for (const s of stores) await removeStore(s);
});

describe('a layer unpacked as its blob downloads', () => {
  it('unpacks from the first half of a blob, and discards it all when the whole blob\'s digest is wrong', async () => {
    const s = await tempStore();
    stores.push(s);
    mode = 'half-then-tampered-header';
    release = undefined;
    halfSent = false;
    const pull = runFlux(['pull', `${reg.host}/busybox`], { store: s, timeoutMs: 60_000 });
    const deadline = Date.now() + 15_000;
    // Entries of the layer appear in its unpack directory while half its blob is still missing
    // (half of busybox's blob ends inside its one large binary, so a few entries).
    const filesIn = (d: string): number => readdirSync(d, { recursive: true }).length;
    while (!(halfSent && unpackDirs(s).some((d) => filesIn(d) > 2))) {
      if (Date.now() > deadline) {
        release?.();
        throw new Error(`nothing was unpacked while half the blob was held back (unpack dirs: ${unpackDirs(s).map((d) => `${d}: ${filesIn(d)}`).join(', ') || 'none'}; tmp: ${readdirSync(join(s, 'tmp')).join(' ')})`);
      }
      await sleep(20);
    }
    expect(layerDirs(s)).toEqual([]);
    release!();
    const r = await pull;
    mode = 'pass';
    expect(r.code).not.toBe(0);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('flux: '))).toHaveLength(1);
    expect(r.stderr).toMatch(/digest/i);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(layerDirs(s)).toEqual([]);
    expect(unpackDirs(s)).toEqual([]);
    expect(existsSync(join(s, 'blobs', 'sha256', layer.digest.slice(7)))).toBe(false);

    const ok = await runFlux(['pull', `${reg.host}/busybox`], { store: s });
    expect(ok.code, ok.stderr).toBe(0);
    expect(layerDirs(s).sort()).toEqual([fx.diffIds![0]!.slice(7), `${fx.diffIds![0]!.slice(7)}.json`].sort());
  });

  it('resumes a download cut midway on the next pull and unpacks the layer right', async () => {
    const s = await tempStore();
    stores.push(s);
    mode = 'cut';
    const cut = await runFlux(['pull', `${reg.host}/busybox`], { store: s, timeoutMs: 60_000 });
    mode = 'pass';
    expect(cut.code).not.toBe(0);
    expect(cut.stderr).toMatch(/registry|ended after/i);
    expect(layerDirs(s)).toEqual([]);
    expect(unpackDirs(s)).toEqual([]);
    const partial = join(s, 'tmp', `${layer.digest.slice(7)}.partial`);
    const kept = statSync(partial).size;
    expect(kept).toBeGreaterThan(0);

    const ok = await runFlux(['pull', `${reg.host}/busybox`], { store: s });
    expect(ok.code, ok.stderr).toBe(0);
    // Only the rest of the layer is fetched.
    expect(ok.stderr).toMatch(new RegExp(`fetched ${layer.size - kept} bytes`));
    // The same tree, file for file and size for size, as a pull that was never cut.
    const clean = await tempStore();
    stores.push(clean);
    const fresh = await runFlux(['pull', `${reg.host}/busybox`], { store: clean });
    expect(fresh.code, fresh.stderr).toBe(0);
    const tree = (store: string): string[] => {
      const root = join(store, 'layers', 'sha256', fx.diffIds![0]!.slice(7));
      return (readdirSync(root, { recursive: true }) as string[]).sort().map((n) => `${n} ${lstatSync(join(root, n)).size}`);
    };
    expect(tree(s).length).toBeGreaterThan(50);
    expect(tree(s)).toEqual(tree(clean));
    const run = await runFlux(['run', '--network', 'none', `${reg.host}/busybox`, '--', 'true'], { store: s });
    expect(run.code, run.stderr).toBe(0);
  });
});
