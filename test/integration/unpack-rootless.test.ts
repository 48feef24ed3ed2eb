/**
 * Unpacking as the unprivileged test user: flux's worker runs as root in the user's mapped
 * user namespace, so the store holds the image's owners shifted into the user's sub-uid range,
 * whiteout devices, user.overlay.opaque markers, modes and mtimes as the image says.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFile, lstat, mkdir, mkdtemp, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTar, writeLayout } from '../../fixtures/hostile/build.mjs';
import { loadFfi, lgetxattr } from '../../src/native/ffi.js';
import { buildFixtures, userFixtureDir } from '../helpers/fixtures.js';
import { requireTool } from '../helpers/require.js';
import { appDir, isRoot, removeStore, runAs, tempStore, testUser, type RunResult } from '../helpers/user.js';

const DRIVER_SRC = new URL('../../fixtures/hostile/unpack-driver.mjs', import.meta.url).pathname;
let work: string;
let driver: string;
let fixtures: string;

interface DriverOut {
  ok: boolean;
  result?: { unpackedBytes: number; unpackedSize: number; unpacked: string[] };
  error?: { code: string; message: string; hint?: string };
  layers: Array<{ digest: string; diffId: string }>;
  warnings: string[];
}

async function unpackAs(user: string, store: string, layout: string, op = 'unpack'): Promise<DriverOut> {
  const r: RunResult = await runAs(user, process.execPath, [driver, await appDir(), store, layout, op], { timeoutMs: 120_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as DriverOut;
  } catch {
    throw new Error(`driver failed (${r.code}): ${r.stdout}\n${r.stderr}`);
  }
}

async function subStart(name: string, file: string): Promise<number> {
  const line = (await readFile(file, 'utf8')).split('\n').find((l) => l.startsWith(`${name}:`));
  return Number(line?.split(':')[1]);
}

const layerDir = (store: string, diffId: string) => join(store, 'layers', 'sha256', diffId.slice(7));

beforeAll(async () => {
  await buildFixtures(['multilayer', 'busybox', 'busybox-zstd']);
  // The test user reads the fixtures from its own readable copy: CI's checkout may be closed to it.
  fixtures = dirname(await userFixtureDir('multilayer'));
  work = await mkdtemp('/tmp/flux-unpack-it-');
  await mkdir(work, { recursive: true });
  driver = join(work, 'unpack-driver.mjs');
  await copyFile(DRIVER_SRC, driver);
  execFileSync('chmod', ['-R', 'a+rX', work]);
  await loadFfi();
}, 300_000);

afterAll(async () => {
  if (work) execFileSync('rm', ['-rf', work]);
});

describe.skipIf(!isRoot)('unpack as the unprivileged user', () => {
  it('unpacks the multilayer fixture with owners, modes, links, whiteouts, opaque dirs, mtimes and long paths', async () => {
    requireTool('newuidmap');
    requireTool('unshare');
    const user = await testUser();
    const store = await tempStore(user);
    try {
      const out = await unpackAs(user.name, store, join(fixtures, 'multilayer'));
      expect(out.error).toBeUndefined();
      expect(out.ok).toBe(true);
      expect(out.result?.unpacked).toHaveLength(3);
      const [l1, l2, l3] = out.layers.map((l) => layerDir(store, l.diffId)) as [string, string, string];
      const base = await subStart(user.name, '/etc/subuid');
      const gbase = await subStart(user.name, '/etc/subgid');

      // Owners: root in the image is the user; 1000 and 65534 are sub-ids (base + id - 1).
      expect((await lstat(join(l2, 'links/target'))).uid).toBe(user.uid);
      const by1000 = await lstat(join(l2, 'owned/by1000'));
      expect([by1000.uid, by1000.gid]).toEqual([base + 999, gbase + 999]);
      const by65534 = await lstat(join(l2, 'owned/by65534'));
      expect([by65534.uid, by65534.gid]).toEqual([base + 65533, gbase + 65533]);
      const dir1000 = await lstat(join(l2, 'owned/dir1000'));
      expect(dir1000.uid).toBe(base + 999);
      expect(dir1000.mode & 0o7777).toBe(0o750);

      // Modes: chmod after chown keeps setuid/setgid; sticky dir.
      expect((await lstat(join(l2, 'perm/setuid'))).mode & 0o7777).toBe(0o4755);
      expect((await lstat(join(l2, 'perm/setgid'))).mode & 0o7777).toBe(0o2755);
      expect((await lstat(join(l2, 'perm/private'))).mode & 0o7777).toBe(0o600);
      expect((await lstat(join(l2, 'perm/sticky'))).mode & 0o7777).toBe(0o1777);

      // Links.
      const target = await lstat(join(l2, 'links/target'));
      const hard = await lstat(join(l2, 'links/hard'));
      expect(hard.ino).toBe(target.ino);
      expect(hard.nlink).toBe(2);
      expect(await readlink(join(l2, 'links/sym'))).toBe('target');
      expect(await readlink(join(l2, 'links/abs'))).toBe('/etc/os-release');
      expect(await readlink(join(l2, 'links/dangling'))).toBe('/nonexistent/nowhere');

      // mtimes, directories included (set after their contents were written).
      const epoch = new Date('2024-01-01T00:00:00Z').getTime();
      expect((await lstat(join(l2, 'links/target'))).mtimeMs).toBe(epoch);
      expect((await lstat(join(l2, 'data'))).mtimeMs).toBe(epoch);
      expect((await lstat(join(l2, 'links/sym'))).mtimeMs).toBe(epoch);

      // Long names (PAX / ustar prefix).
      expect(await readFile(join(l2, 'long', 'd'.repeat(60), 'e'.repeat(50), 'file-with-a-long-name.txt'), 'utf8')).toBe('a path longer than 100 characters\n');
      expect(await readFile(join(l2, 'long', 'n'.repeat(120)), 'utf8')).toBe('a single name longer than 100 characters\n');

      // Whiteout: a 0/0 character device; opaque marker: user.overlay.opaque=y, whatever the entry order.
      const gone = await lstat(join(l3, 'data/gone'));
      expect(gone.isCharacterDevice()).toBe(true);
      expect(gone.rdev).toBe(0);
      expect(lgetxattr(join(l3, 'opq'), 'user.overlay.opaque')?.toString()).toBe('y');
      expect(lgetxattr(join(l3, 'opq'), 'trusted.overlay.opaque')).toBeUndefined();
      expect(await readdir(join(l3, 'opq'))).toEqual(['new1']);
      expect(await readdir(join(l3, 'data'))).toEqual(expect.arrayContaining(['added', 'gone']));
      expect((await readdir(l3)).filter((n) => n.startsWith('.wh.'))).toEqual([]);

      // The busybox layer is there in full.
      expect((await lstat(join(l1, 'bin/busybox'))).isFile()).toBe(true);
      expect(out.result?.unpackedSize).toBe(out.result?.unpackedBytes);
      expect(out.result?.unpackedSize).toBeGreaterThan(1_000_000);
      const info = JSON.parse(await readFile(`${l2}.json`, 'utf8')) as { size: number; files: number; xattr: string };
      expect(info).toMatchObject({ xattr: 'user', files: 29 });

      // Nothing left in tmp/.
      expect((await readdir(join(store, 'tmp'))).filter((n) => n.startsWith('unpack-'))).toEqual([]);

      // A second run finds everything unpacked; removal (as for rmi/prune) deletes sub-uid files too.
      const again = await unpackAs(user.name, store, join(fixtures, 'multilayer'));
      expect(again.result?.unpacked).toEqual([]);
      expect(again.result?.unpackedSize).toBe(out.result?.unpackedSize);
      const removed = await unpackAs(user.name, store, join(fixtures, 'multilayer'), 'remove');
      expect(removed.ok).toBe(true);
      expect(await readdir(join(store, 'layers', 'sha256'))).toEqual([]);
      expect(await readdir(join(store, 'tmp'))).toEqual([]);
    } finally {
      await removeStore(store);
    }
  }, 120_000);

  it('unpacks a layer once by diff_id: gzip and zstd copies of one layer share its directory', async () => {
    const user = await testUser();
    const store = await tempStore(user);
    try {
      const gz = await unpackAs(user.name, store, join(fixtures, 'busybox'));
      expect(gz.ok).toBe(true);
      expect(gz.result?.unpacked).toHaveLength(1);
      const diffId = gz.layers[0]!.diffId;
      const before = await lstat(layerDir(store, diffId));
      const zst = await unpackAs(user.name, store, join(fixtures, 'busybox-zstd'));
      expect(zst.ok).toBe(true);
      expect(zst.layers[0]!.diffId).toBe(diffId);
      expect(zst.layers[0]!.digest).not.toBe(gz.layers[0]!.digest);
      expect(zst.result?.unpacked).toEqual([]);
      expect((await lstat(layerDir(store, diffId))).ino).toBe(before.ino);
      expect(await readdir(join(store, 'layers', 'sha256'))).toHaveLength(2); // the directory and its .json
    } finally {
      await removeStore(store);
    }
  }, 120_000);

  it('two flux processes needing the same layer unpack it once', async () => {
    const user = await testUser();
    const store = await tempStore(user);
    try {
      const [a, b] = await Promise.all([
        unpackAs(user.name, store, join(fixtures, 'multilayer')),
        unpackAs(user.name, store, join(fixtures, 'multilayer')),
      ]);
      expect(a.error ?? b.error).toBeUndefined();
      expect((a.result?.unpacked.length ?? 0) + (b.result?.unpacked.length ?? 0)).toBe(3);
      expect(a.result?.unpackedSize).toBe(b.result?.unpackedSize);
      expect((await readdir(join(store, 'layers', 'sha256'))).filter((n) => /^[0-9a-f]{64}$/.test(n))).toHaveLength(3);
      expect(await readdir(join(store, 'tmp'))).toEqual([]);
    } finally {
      await removeStore(store);
    }
  }, 120_000);

  it('unpacks the zstd fixture on its own', async () => {
    const user = await testUser();
    const store = await tempStore(user);
    try {
      const out = await unpackAs(user.name, store, join(fixtures, 'busybox-zstd'));
      expect(out.ok).toBe(true);
      expect((await lstat(join(layerDir(store, out.layers[0]!.diffId), 'bin/busybox'))).isFile()).toBe(true);
    } finally {
      await removeStore(store);
    }
  }, 120_000);

  it('discards a layer whose diff_id does not match the config, with a clear error', async () => {
    const user = await testUser();
    const store = await tempStore(user);
    const layout = join(work, 'bad-diffid');
    await writeLayout(layout, [[{ name: 'etc', type: 'directory' }, { name: 'etc/x', content: 'x\n' }]]);
    // Rewrite the config in place with a wrong diff_id (the driver reads blobs by file name).
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const blob = (d: string) => join(layout, 'blobs', 'sha256', d.slice(7));
    const manifest = JSON.parse(await readFile(blob(index.manifests[0]!.digest), 'utf8')) as { config: { digest: string } };
    const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8')) as { rootfs: { diff_ids: string[] } };
    const wrong = `sha256:${'ab'.repeat(32)}`;
    config.rootfs.diff_ids = [wrong];
    await writeFile(blob(manifest.config.digest), JSON.stringify(config));
    execFileSync('chmod', ['-R', 'a+rX', layout]);
    try {
      const out = await unpackAs(user.name, store, layout);
      expect(out.ok).toBe(false);
      expect(out.error?.code).toBe('DIFF_ID_MISMATCH');
      expect(out.error?.message).toContain(wrong);
      expect(out.error?.hint).toMatch(/pull it again/);
      expect(await readdir(join(store, 'layers', 'sha256'))).toEqual([]);
      expect(await readdir(join(store, 'tmp'))).toEqual([]);
    } finally {
      await removeStore(store);
    }
  }, 120_000);

  it('a kill -9 mid-unpack leaves nothing in layers/, and the next run cleans up and finishes', async () => {
    const user = await testUser();
    const store = await tempStore(user);
    const layout = join(work, 'many-files');
    const entries = [{ name: 'many', type: 'directory' as const }];
    for (let i = 0; i < 4000; i++) entries.push({ name: `many/f${i}`, content: `file ${i}\n` } as never);
    await writeLayout(layout, [await makeTar(entries)]);
    execFileSync('chmod', ['-R', 'a+rX', layout]);
    try {
      const child = spawn('runuser', ['-u', user.name, '--', process.execPath, driver, await appDir(), store, layout], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      // Wait until the unpack is under way: its temp directory has files in it.
      let tmpDir: string | undefined;
      for (let i = 0; i < 2400 && !tmpDir && child.exitCode === null; i++) {
        await new Promise((r) => setTimeout(r, 25));
        for (const n of await readdir(join(store, 'tmp')).catch(() => [] as string[])) {
          if (!n.startsWith('unpack-')) continue;
          const inner = await readdir(join(store, 'tmp', n, 'many')).catch(() => [] as string[]);
          if (inner.length > 50) tmpDir = n;
        }
      }
      expect(tmpDir, `no unpack in progress; driver said: ${err}`).toBeDefined();
      const pid = Number(/pid (\d+)/.exec(err)?.[1]);
      expect(pid).toBeGreaterThan(0);
      process.kill(pid, 'SIGKILL');
      await new Promise((r) => child.on('close', r));
      // The worker notices its parent is gone and stops; the half layer is never in layers/.
      await new Promise((r) => setTimeout(r, 800));
      expect(await readdir(join(store, 'layers', 'sha256'))).toEqual([]);
      expect(await readdir(join(store, 'tmp'))).toContain(tmpDir);

      const out = await unpackAs(user.name, store, layout);
      expect(out.error).toBeUndefined();
      expect(out.result?.unpacked).toHaveLength(1);
      expect(await readdir(join(store, 'tmp'))).toEqual([]);
      expect(await readdir(join(layerDir(store, out.layers[0]!.diffId), 'many'))).toHaveLength(4000);
    } finally {
      await removeStore(store);
    }
  }, 180_000);

  it('skips device nodes with one warning, keeps fifos and file capabilities', async () => {
    const user = await testUser();
    const store = await tempStore(user);
    const layout = join(work, 'devices');
    // VFS_CAP_REVISION_2, cap_net_raw permitted+effective.
    const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
    await writeLayout(layout, [[
      { name: 'dev', type: 'directory' },
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/zero', type: 'character-device', devmajor: 1, devminor: 5, mode: 0o666 },
      { name: 'dev/fifo', type: 'fifo', mode: 0o600 },
      { name: 'ping', content: '#!/bin/sh\n', mode: 0o755, pax: { 'SCHILY.xattr.security.capability': cap.toString('latin1') } },
    ] as never]);
    execFileSync('chmod', ['-R', 'a+rX', layout]);
    try {
      const out = await unpackAs(user.name, store, layout);
      expect(out.error).toBeUndefined();
      const devWarnings = out.warnings.filter((w) => /device nodes/.test(w));
      expect(devWarnings).toHaveLength(1);
      expect(devWarnings[0]).toContain('"dev/null"');
      const l = layerDir(store, out.layers[0]!.diffId);
      expect(await readdir(join(l, 'dev'))).toEqual(['fifo']);
      expect((await lstat(join(l, 'dev/fifo'))).isFIFO()).toBe(true);
      // Set inside the user namespace, the capability is stored in its v3 form, tied to the namespace's root.
      const stored = lgetxattr(join(l, 'ping'), 'security.capability');
      expect(stored).toBeDefined();
      expect(stored!.readUInt32LE(0) >>> 24).toBe(3);
      expect(stored!.readUInt32LE(20)).toBe(user.uid);
    } finally {
      await removeStore(store);
    }
  }, 120_000);

  it('without subordinate ids, files of other owners go to root with one warning', async () => {
    const user = await testUser('fluxnosub');
    const store = await tempStore(user);
    try {
      const out = await unpackAs(user.name, store, join(fixtures, 'multilayer'));
      expect(out.error).toBeUndefined();
      expect(out.ok).toBe(true);
      const chownWarnings = out.warnings.filter((w) => /do(es)? not map/.test(w));
      expect(chownWarnings).toHaveLength(1);
      expect(chownWarnings[0]).toMatch(/\/etc\/subuid/);
      const l2 = layerDir(store, out.layers[1]!.diffId);
      expect((await lstat(join(l2, 'owned/by1000'))).uid).toBe(user.uid);
      expect((await lstat(join(l2, 'perm/setuid'))).mode & 0o7777).toBe(0o4755);
      expect((await lstat(join(layerDir(store, out.layers[2]!.diffId), 'data/gone'))).isCharacterDevice()).toBe(true);
    } finally {
      await removeStore(store);
    }
  }, 120_000);
});
