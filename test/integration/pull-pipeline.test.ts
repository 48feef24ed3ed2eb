/**
 * A pull unpacks each layer as soon as its blob is verified, while later blobs still download:
 * while the last layer's download is held back, the earlier layers appear in layers/. If that
 * last blob then turns out tampered, the pull fails in one sentence, keeps only complete layers,
 * and the next pull fetches and unpacks only what is missing.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
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
let last: { digest: string; size: number };
let lastBytes: Buffer;
/** What the registry does with the last layer's blob: serve it, or hold it until released and then send it altered. */
let mode: 'pass' | 'hold-then-tamper' = 'pass';
let release: (() => void) | undefined;
const stores: string[] = [];

function completeLayers(store: string): string[] {
  const dir = join(store, 'layers', 'sha256');
  if (!existsSync(dir)) return [];
  const names = readdirSync(dir);
  // A layer counts once its directory and its info file are both in place.
  return names.filter((n) => !n.endsWith('.json') && names.includes(`${n}.json`)).map((n) => `sha256:${n}`);
}

beforeAll(async () => {
  fx = await fixtureInfo('multilayer');
  last = fx.layers!.at(-1)!;
  lastBytes = readFileSync(join(fx.dir, 'blobs', 'sha256', last.digest.slice(7)));
  reg = await startRegistry({
    intercept: async (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (mode === 'pass' || req.method !== 'GET' || !req.url?.includes(`/blobs/${last.digest}`)) return false;
      // Only the first request waits: a retry, if any, gets the altered bytes at once.
      if (!release) await new Promise<void>((r) => (release = r));
      const bad = Buffer.from(lastBytes);
      bad[bad.length >> 1]! ^= 0xff;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(last.size), 'docker-content-digest': last.digest });
      res.end(bad);
      return true;
    },
  });
  await pushFixtures(reg, ['multilayer']);
});

afterAll(async () => {
  release?.();
  await reg?.stop();
  for (const s of stores) await removeStore(s);
});

describe('pipelined pull', () => {
  it('unpacks earlier layers while a later blob downloads; a bad later blob leaves only complete layers', async () => {
    const s = await tempStore();
    stores.push(s);
    const [first, second, third] = fx.diffIds!;
    mode = 'hold-then-tamper';
    release = undefined;
    const pull = runFlux(['pull', `${reg.host}/multilayer`], { store: s, timeoutMs: 60_000 });
    const deadline = Date.now() + 45_000;
    while (!(release && completeLayers(s).length >= 2)) {
      if (Date.now() > deadline) {
        release?.();
        throw new Error(`the earlier layers were not unpacked while the last blob was held back (layers: ${completeLayers(s).join(', ') || 'none'})`);
      }
      await sleep(50);
    }
    expect(completeLayers(s).sort()).toEqual([first, second].sort());
    release!();
    const r = await pull;
    mode = 'pass';
    expect(r.code).not.toBe(0);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('flux: '))).toHaveLength(1);
    expect(r.stderr).toMatch(/digest/i);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(completeLayers(s)).not.toContain(third);
    expect(existsSync(join(s, 'blobs', 'sha256', last.digest.slice(7)))).toBe(false);
    // Nothing of the failed pull stays in layers/ half-done.
    const leftovers = readdirSync(join(s, 'layers', 'sha256')).filter((n) => !n.endsWith('.json') && !completeLayers(s).includes(`sha256:${n}`));
    expect(leftovers).toEqual([]);
    expect(JSON.parse((await runFlux(['images', '--json'], { store: s })).stdout)).toEqual([]);

    const inodes = [first, second].map((d) => statSync(join(s, 'layers', 'sha256', d!.slice(7))).ino);
    const ok = await runFlux(['pull', `${reg.host}/multilayer`], { store: s });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(new RegExp(`fetched ${last.size} bytes`));
    expect(completeLayers(s).sort()).toEqual([first, second, third].sort());
    // The layers the failed pull finished are kept, not unpacked again.
    expect([first, second].map((d) => statSync(join(s, 'layers', 'sha256', d!.slice(7))).ino)).toEqual(inodes);
    const run = await runFlux(['run', '--network', 'none', `${reg.host}/multilayer`, '--', 'true'], { store: s });
    expect(run.code, run.stderr).toBe(0);
  });
});
