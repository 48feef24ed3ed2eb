/**
 * A layer that does not fit where it is unpacked: its blob (zeros, gzip makes it a few KiB)
 * fits the store, its files do not. The pull ends with one sentence naming ENOSPC and the path,
 * non-zero, and the store stays consistent: no half layer in layers/, no temp tree, no image
 * record, and a prune afterwards works. A store on a read-only file system says EROFS likewise.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLayout } from '../../fixtures/hostile/build.mjs';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { requireTool } from '../helpers/require.js';
import { isRoot, runFlux, testUser } from '../helpers/user.js';

requireTool('docker-registry');
requireTool('skopeo');
requireTool('mount');

let reg: Registry;
let work: string;
let image: string;

beforeAll(async () => {
  reg = await startRegistry();
  work = mkdtempSync('/tmp/flux-no-space-');
  const layout = join(work, 'layout');
  await writeLayout(layout, [[
    { name: 'data/', type: 'directory' },
    { name: 'data/small', content: 'small\n' },
    { name: 'data/big', content: Buffer.alloc(8 << 20) },
  ]]);
  execFileSync('skopeo', ['--insecure-policy', 'copy', '--preserve-digests', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${reg.directHost}/too-big:latest`], { stdio: 'pipe' });
  image = `${reg.host}/too-big:latest`;
}, 300_000);

afterAll(async () => {
  await reg?.stop();
  if (work) execFileSync('rm', ['-rf', work]);
});

describe.skipIf(!isRoot)('a layer larger than the store\'s file system', () => {
  for (const mode of ['rootless', 'root'] as const) {
    it(`${mode}: one sentence naming ENOSPC and the path; the store stays consistent`, async () => {
      const asUser = mode === 'rootless';
      const user = asUser ? await testUser() : { uid: 0, gid: 0 };
      // A 2 MiB tmpfs made here as root: the 8 MiB file cannot fit, the blob can.
      const mnt = mkdtempSync(join(work, 'mnt-'));
      chmodSync(work, 0o711);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0711', 'flux-no-space', mnt]);
      try {
        const store = join(mnt, 'store');
        mkdirSync(store, { mode: 0o700 });
        chownSync(store, user.uid, user.gid);
        const r = await runFlux(['pull', image], { store, asUser });
        expect(r.code).not.toBe(0);
        const lines = r.stderr.split('\n').filter((l) => l.startsWith('flux: '));
        expect(lines, r.stderr).toHaveLength(1);
        const line = lines[0]!;
        expect(line).not.toMatch(/internal error/);
        expect(line).toMatch(/\(ENOSPC\)/);
        expect(line).toContain(store);
        expect(line).toMatch(/flux prune|FLUX_STORE/);
        expect(r.stderr).not.toMatch(/\n\s+at /);

        // Consistent: no layer (whole or half), no temp tree left, no image recorded.
        expect(readdirSync(join(store, 'layers', 'sha256'))).toEqual([]);
        expect(readdirSync(join(store, 'tmp')).filter((n) => n.startsWith('unpack-'))).toEqual([]);
        expect(existsSync(join(store, 'runs')) ? readdirSync(join(store, 'runs')) : []).toEqual([]);
        const images = await runFlux(['images'], { store, asUser });
        expect(images.code, images.stderr).toBe(0);
        expect(images.stdout).not.toContain('too-big');
        const prune = await runFlux(['prune'], { store, asUser });
        expect(prune.code, prune.stderr).toBe(0);
        expect(readdirSync(join(store, 'tmp'))).toEqual([]);
        expect(readdirSync(join(store, 'blobs', 'sha256'))).toEqual([]);
      } finally {
        execFileSync('umount', [mnt]);
      }
    }, 120_000);
  }
});

describe.skipIf(!isRoot)('a store on a read-only file system', () => {
  for (const made of [false, true]) {
    it(`${made ? 'an existing' : 'a new'} store: one sentence naming EROFS and the path`, async () => {
      const user = await testUser();
      const mnt = mkdtempSync(join(work, 'ro-'));
      chmodSync(work, 0o711);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0711', 'flux-ro', mnt]);
      try {
        const store = join(mnt, 'store');
        mkdirSync(store, { mode: 0o700 });
        if (made) for (const d of ['blobs/sha256', 'layers/sha256', 'tmp', 'locks', 'index', 'runs']) mkdirSync(join(store, d), { recursive: true });
        execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, store]);
        execFileSync('mount', ['-o', 'remount,ro', mnt]);
        const r = await runFlux(['pull', image], { store });
        expect(r.code).not.toBe(0);
        const lines = r.stderr.split('\n').filter((l) => l.startsWith('flux: '));
        expect(lines, r.stderr).toHaveLength(1);
        // Node's recursive mkdir says ENOENT for a read-only file system; flux finds the real cause.
        expect(lines[0]).toMatch(/\(EROFS\)/);
        expect(lines[0]).toContain(store);
        expect(lines[0]).not.toMatch(/internal error/);
      } finally {
        execFileSync('umount', [mnt]);
      }
    }, 60_000);
  }
});
