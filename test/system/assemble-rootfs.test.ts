/**
 * Rootfs assembly for each kind (native overlay, fuse-overlayfs, copy), checked as the test user
 * from inside the container: whiteouts, opaque dirs, owners, modes, links, long paths; and an
 * image of 128 layers.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, readdir, writeFile, chmod, rm } from 'node:fs/promises';
import { accessSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import { buildFixtures, userFixtureDir } from '../helpers/fixtures.js';
import { runFlux, tempStore, removeStore, isRoot, testUser } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';
import { LONG_PATH, LONG_NAME } from '../../fixtures/build.mjs';

let store: string;
let multilayer: string;

const CHECK = [
  'ls /data | tr "\\n" " "; echo',
  'ls -A /opq | tr "\\n" " "; echo',
  'stat -c "%u:%g %n" /owned/by1000 /owned/by65534 /owned/dir1000 /perm/setuid',
  'stat -c "%a %n" /perm/setuid /perm/setgid /perm/private /perm/sticky /owned/dir1000',
  'test "$(stat -c %i /links/hard)" = "$(stat -c %i /links/target)" && echo hardlink-same-inode',
  'readlink /links/sym; readlink /links/abs',
  `cat /${LONG_PATH} /${LONG_NAME}`,
  'rm -rf /data /opq && echo removed-lower-dirs',
].join('; ');

const EXPECTED = [
  'added keep ',
  'new1 ',
  '1000:1000 /owned/by1000',
  '65534:65534 /owned/by65534',
  '1000:1000 /owned/dir1000',
  '0:0 /perm/setuid',
  '4755 /perm/setuid',
  '2755 /perm/setgid',
  '600 /perm/private',
  '1777 /perm/sticky',
  '750 /owned/dir1000',
  'hardlink-same-inode',
  'target',
  '/etc/os-release',
  'a path longer than 100 characters',
  'a single name longer than 100 characters',
  'removed-lower-dirs',
].join('\n');

const KIND_TEXT = { native: 'native overlayfs', fuse: 'fuse-overlayfs', copy: 'copy' } as const;

beforeAll(async () => {
  requireTool('newuidmap');
  await buildFixtures(['busybox', 'multilayer']);
  store = await tempStore();
  multilayer = `oci:${await userFixtureDir('multilayer')}`;
  const r = await runFlux(['pull', '-q', multilayer], { store });
  expect(r.code).toBe(0);
});

afterAll(async () => {
  if (store) await removeStore(store);
});

describe.each(['native', 'fuse', 'copy'] as const)('rootfs assembly: %s', (kind) => {
  it('shows the multilayer image as its author built it, and forgets changes', async () => {
    if (kind === 'fuse') {
      requireTool('fuse-overlayfs');
      requireTool('/dev/fuse', () => {
        accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
        return true;
      }, 'must be readable and writable by the test user');
    }
    const before = await readFile('/proc/self/mountinfo', 'utf8');
    const r = await runFlux(['run', '--verbose', '--network', 'none', multilayer, '--', 'sh', '-c', CHECK], { store, env: { FLUX_OVERLAY: kind } });
    expect(r.stderr).toContain(`flux: rootfs: ${KIND_TEXT[kind]}`);
    expect(r.stdout.trim()).toBe(EXPECTED);
    expect(r.code).toBe(0);
    // The lower layers were not touched: the next run still sees /data and /opq.
    const again = await runFlux(['run', '--network', 'none', multilayer, '--', 'sh', '-c', 'ls /data /opq | wc -l'], { store, env: { FLUX_OVERLAY: kind } });
    expect(Number(again.stdout.trim())).toBeGreaterThan(3);
    expect(await readdir(join(store, 'runs'))).toEqual([]);
    // No mount of this store's runs is left on the host (other test files may mount meanwhile).
    const ours = (table: string) => table.split('\n').filter((l) => l.includes(store));
    expect(ours(await readFile('/proc/self/mountinfo', 'utf8'))).toEqual(ours(before));
  });
});

/** An OCI layout: the busybox fixture's layer and config plus `extra` one-file layers. */
async function manyLayerLayout(extra: number): Promise<string> {
  const src = join(await buildFixtures(['busybox']), 'busybox');
  const dir = await mkdtemp(join(tmpdir(), 'flux-128-'));
  await cp(src, dir, { recursive: true });
  const blob = (d: string) => join(dir, 'blobs/sha256', d.slice(7));
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
  const manifest = JSON.parse(await readFile(blob(index.manifests[0].digest), 'utf8'));
  const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8'));
  const put = async (data: Buffer) => {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    await writeFile(blob(digest), data);
    return digest;
  };
  for (let i = 1; i <= extra; i++) {
    const pack = tar.pack();
    const chunks: Buffer[] = [];
    pack.on('data', (c: Buffer) => chunks.push(c));
    const done = new Promise((r) => pack.on('end', r));
    pack.entry({ name: 'layers', type: 'directory', mode: 0o755, mtime: new Date(0) });
    pack.entry({ name: `layers/${String(i).padStart(3, '0')}`, mode: 0o644, mtime: new Date(0) }, `${i}\n`);
    if (i > 1) pack.entry({ name: 'top', mode: 0o644, mtime: new Date(0) }, `layer ${i}\n`);
    pack.finalize();
    await done;
    const data = Buffer.concat(chunks);
    const digest = await put(data);
    manifest.layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: data.length });
    config.rootfs.diff_ids.push(digest);
  }
  const cfg = Buffer.from(JSON.stringify(config));
  manifest.config = { ...manifest.config, digest: await put(cfg), size: cfg.length };
  const man = Buffer.from(JSON.stringify(manifest));
  index.manifests = [{ ...index.manifests[0], digest: await put(man), size: man.length }];
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  if (isRoot) {
    const u = await testUser();
    const { execFileSync } = await import('node:child_process');
    execFileSync('chown', ['-R', `${u.uid}:${u.gid}`, dir]);
  }
  await chmod(dir, 0o755);
  return dir;
}

describe('many layers', () => {
  it('runs an image of 128 layers', async () => {
    const dir = await manyLayerLayout(127);
    try {
      const pull = await runFlux(['pull', '-q', `oci:${dir}`], { store, timeoutMs: 120_000 });
      expect(pull.stderr).toBe('');
      expect(pull.code).toBe(0);
      const r = await runFlux(['run', '--verbose', '--network', 'none', `oci:${dir}`, '--', 'sh', '-c', 'ls /layers | wc -l; cat /top'], { store });
      expect(r.stdout.trim().split('\n')).toEqual(['127', 'layer 127']);
      expect(r.code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
