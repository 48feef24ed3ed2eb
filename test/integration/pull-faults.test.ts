/**
 * Pulls that go wrong: a tampered blob, a truncated blob, kill -9 mid-download (the next pull
 * resumes), a full disk. Afterwards the store holds verified blobs only.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type http from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fixtureInfo, pushFixtures, type FixtureSummary } from '../helpers/fixtures.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { requireTool } from '../helpers/require.js';
import { fluxBin, isRoot, removeStore, runFlux, tempStore, testUser, USER_PATH } from '../helpers/user.js';

requireTool('docker-registry');
requireTool('skopeo');

type Mode = 'pass' | 'tamper' | 'truncate' | 'stall';
let mode: Mode = 'pass';
let reg: Registry;
let busybox: FixtureSummary;
let layer: { digest: string; size: number };
let layerBytes: Buffer;
const stalled: http.ServerResponse[] = [];
const stores: string[] = [];

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function assertBlobsVerified(root: string): string[] {
  const dir = join(root, 'blobs', 'sha256');
  const names = existsSync(dir) ? readdirSync(dir) : [];
  for (const n of names) expect(sha(readFileSync(join(dir, n)))).toBe(`sha256:${n}`);
  return names.map((n) => `sha256:${n}`);
}

function oneSentence(stderr: string): void {
  // Progress lines may come first; the failure is one line of its own.
  expect(stderr.split('\n').filter((l) => l.startsWith('flux: '))).toHaveLength(1);
  expect(stderr.trimEnd().split('\n').at(-1)).toMatch(/^flux: /);
  expect(stderr).not.toMatch(/\n\s+at /);
}

async function store(): Promise<string> {
  const s = await tempStore();
  stores.push(s);
  return s;
}

beforeAll(async () => {
  busybox = await fixtureInfo('busybox');
  layer = busybox.layers![0]!;
  layerBytes = readFileSync(join(busybox.dir, 'blobs', 'sha256', layer.digest.slice(7)));
  reg = await startRegistry({
    intercept: (req, res) => {
      if (mode === 'pass' || req.method !== 'GET' || !req.url?.includes(`/blobs/${layer.digest}`)) return false;
      const headers = { 'content-type': 'application/octet-stream', 'content-length': String(layer.size), 'docker-content-digest': layer.digest };
      if (mode === 'tamper') {
        const bad = Buffer.from(layerBytes);
        bad[bad.length >> 1] ^= 0xff;
        res.writeHead(200, headers);
        res.end(bad);
      } else if (mode === 'truncate') {
        res.writeHead(200, headers);
        res.write(layerBytes.subarray(0, layer.size >> 1), () => res.destroy());
      } else {
        res.writeHead(200, headers);
        res.write(layerBytes.subarray(0, layer.size >> 1));
        stalled.push(res);
      }
      return true;
    },
  });
  await pushFixtures(reg, ['busybox']);
});

afterAll(async () => {
  for (const r of stalled) r.destroy();
  await reg?.stop();
  for (const s of stores) await removeStore(s);
});

describe('pull faults', () => {
  // A failed test must not leave the registry stalling or truncating for the next one.
  afterEach(() => {
    mode = 'pass';
  });

  it('refuses a tampered blob and stores nothing unverified', async () => {
    const s = await store();
    mode = 'tamper';
    const r = await runFlux(['pull', `${reg.host}/busybox`], { store: s });
    mode = 'pass';
    expect(r.code).not.toBe(0);
    oneSentence(r.stderr);
    expect(r.stderr).toMatch(/digest/i);
    expect(assertBlobsVerified(s)).not.toContain(layer.digest);
    expect(readdirSync(join(s, 'tmp')).filter((n) => n.startsWith(layer.digest.slice(7)))).toEqual([]);
    expect(JSON.parse((await runFlux(['images', '--json'], { store: s })).stdout)).toEqual([]);
  });

  it('reports a truncated blob in one sentence and stores nothing unverified', async () => {
    const s = await store();
    mode = 'truncate';
    const r = await runFlux(['pull', `${reg.host}/busybox`], { store: s, timeoutMs: 45_000 });
    mode = 'pass';
    expect(r.code).not.toBe(0);
    oneSentence(r.stderr);
    expect(assertBlobsVerified(s)).not.toContain(layer.digest);
    // The same pull with a working registry then completes.
    const ok = await runFlux(['pull', `${reg.host}/busybox`], { store: s });
    expect(ok.code, ok.stderr).toBe(0);
    expect(assertBlobsVerified(s)).toContain(layer.digest);
  });

  it('resumes after kill -9 mid-download without fetching complete blobs again', async () => {
    const s = await store();
    const user = await testUser();
    mode = 'stall';
    const bin = await fluxBin();
    const env = [`HOME=${user.home}`, `PATH=${USER_PATH}`, `FLUX_STORE=${s}`];
    const argv = [bin, 'pull', `${reg.host}/busybox`];
    const child = isRoot
      ? spawn('runuser', ['-u', user.name, '--', 'env', '-i', ...env, process.execPath, ...argv], { detached: true, stdio: 'ignore' })
      : spawn(process.execPath, argv, { detached: true, stdio: 'ignore', env: { ...process.env, FLUX_STORE: s } });
    const partial = join(s, 'tmp', `${layer.digest.slice(7)}.partial`);
    const deadline = Date.now() + 30_000;
    // The config downloads alongside the layers: kill only once it is complete and the layer half-way.
    const config = join(s, 'blobs', 'sha256', busybox.config!.slice(7));
    while (!(existsSync(partial) && statSync(partial).size >= layer.size >> 1 && existsSync(config))) {
      if (Date.now() > deadline) throw new Error('the pull never wrote its partial download');
      await sleep(50);
    }
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    const kept = statSync(partial).size;
    expect(kept).toBe(layer.size >> 1);
    expect(assertBlobsVerified(s)).toContain(busybox.config);

    mode = 'pass';
    const from = reg.proxyRequests.length;
    const r = await runFlux(['pull', `${reg.host}/busybox`], { store: s });
    expect(r.code, r.stderr).toBe(0);
    const gets = reg.proxyRequests.slice(from).filter((q) => q.method === 'GET' && q.url.includes('/blobs/'));
    expect(gets.filter((q) => q.url.includes(busybox.config!))).toEqual([]);
    const layerGets = gets.filter((q) => q.url.includes(layer.digest));
    expect(layerGets).toHaveLength(1);
    expect(layerGets[0]!.headers.range).toBe(`bytes=${kept}-`);
    const fetched = Number(/fetched (\d+) bytes/.exec(r.stderr)?.[1]);
    expect(fetched).toBeLessThan(layer.size);
    expect(assertBlobsVerified(s)).toContain(layer.digest);
    expect(existsSync(partial)).toBe(false);
  });

  it.skipIf(!isRoot)('says the disk is full, names the store and flux prune, and keeps the store clean', async () => {
    requireTool('mount');
    const user = await testUser();
    const mnt = await mkdtemp('/tmp/flux-full-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=600k,uid=${user.uid},gid=${user.gid},mode=0700`, 'flux-full', mnt]);
    try {
      const r = await runFlux(['pull', `${reg.host}/busybox`], { store: mnt });
      expect(r.code).not.toBe(0);
      oneSentence(r.stderr);
      expect(r.stderr).toContain(`no space left on the device holding the image store ${mnt}`);
      expect(r.stderr).toContain('flux prune');
      expect(assertBlobsVerified(mnt)).not.toContain(layer.digest);
      expect(readdirSync(join(mnt, 'tmp'))).toEqual([]);
    } finally {
      execFileSync('umount', [mnt]);
      await rm(mnt, { recursive: true, force: true });
    }
  });
});
