/**
 * Images with read-only directories, as Fedora and RHEL root filesystems have them: a layer
 * whose root `./` is 0555, nested 0555 directories with content, 0550/0500 directories owned by
 * another id. Moving such a layer root into layers/ needs write permission on the directory
 * itself, which the pull once lacked ("internal error: EACCES … rename"). They must pull with
 * their modes intact, run (native overlay, fuse-overlayfs and copy root), and go again with rmi
 * and prune; a leftover temp tree of read-only directories (an unpack killed midway) is swept.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, chmodSync, constants, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLayout } from '../../fixtures/hostile/build.mjs';
import { fixtureInfo } from '../helpers/fixtures.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { requireTool } from '../helpers/require.js';
import { isRoot, removeStore, runFlux, tempStore, testUser } from '../helpers/user.js';

requireTool('docker-registry');
requireTool('skopeo');

let reg: Registry;
let work: string;
let image: string;
let roDiffId: string;

const READ_ONLY = [
  { name: './', type: 'directory', mode: 0o555 },
  { name: './ro/', type: 'directory', mode: 0o555 },
  { name: './ro/inner/', type: 'directory', mode: 0o555 },
  { name: './ro/inner/file', content: 'inside two read-only directories\n', mode: 0o444 },
  { name: './root/', type: 'directory', mode: 0o550 },
  { name: './root/.profile', content: 'root profile\n', mode: 0o640 },
  { name: './home/', type: 'directory', mode: 0o755 },
  { name: './home/u/', type: 'directory', mode: 0o500, uid: 1000, gid: 1000 },
  { name: './home/u/secret', content: 'user 1000 only\n', mode: 0o400, uid: 1000, gid: 1000 },
] as const;

const layers = (s: string) => join(s, 'layers', 'sha256');
const layerDirs = (s: string) => (existsSync(layers(s)) ? readdirSync(layers(s)).filter((n) => /^[a-f0-9]{64}$/.test(n)) : []);

beforeAll(async () => {
  reg = await startRegistry();
  const busybox = await fixtureInfo('busybox');
  const base = gunzipSync(readFileSync(join(busybox.dir, 'blobs', 'sha256', busybox.layers[0]!.digest.slice(7))));
  work = mkdtempSync('/tmp/flux-ro-root-');
  const layout = join(work, 'layout');
  const { layers: written } = await writeLayout(layout, [base, READ_ONLY.map((e) => ({ ...e }))]);
  roDiffId = written[1]!.diffId as string;
  execFileSync('skopeo', ['--insecure-policy', 'copy', '--preserve-digests', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${reg.directHost}/readonly-root:latest`], { stdio: 'pipe' });
  image = `${reg.host}/readonly-root:latest`;
}, 300_000);

afterAll(async () => {
  await reg?.stop();
  if (work) execFileSync('rm', ['-rf', work]);
});

describe('an image whose layer root and directories are read-only', () => {
  for (const mode of isRoot ? (['rootless', 'root'] as const) : (['rootless'] as const)) {
    it(`${mode}: pulls with its modes intact, runs (native, fuse and copy roots), and rmi and prune remove it`, async () => {
      const asUser = mode === 'rootless';
      const user = asUser ? await testUser() : undefined;
      const s = await tempStore(user ?? 'root');
      try {
        const pull = await runFlux(['pull', '-q', image], { store: s, asUser });
        expect(pull.stderr).not.toMatch(/internal error/);
        expect(pull.code, pull.stderr).toBe(0);

        const dir = join(layers(s), roDiffId.slice(7));
        const modeOf = (rel: string) => lstatSync(join(dir, rel)).mode & 0o7777;
        expect(modeOf('')).toBe(0o555);
        expect(modeOf('ro')).toBe(0o555);
        expect(modeOf('ro/inner')).toBe(0o555);
        expect(modeOf('root')).toBe(0o550);
        expect(modeOf('home/u')).toBe(0o500);
        // The other id keeps its own owner (in the sub-uid range when rootless).
        expect(lstatSync(join(dir, 'home/u')).uid).not.toBe(lstatSync(dir).uid);
        if (!asUser) expect(lstatSync(join(dir, 'home/u')).uid).toBe(1000);
        expect(readdirSync(join(layers(s))).filter((n) => n.endsWith('.json'))).toHaveLength(2);
        expect(readdirSync(join(s, 'tmp'))).toEqual([]);

        const script = 'cat /ro/inner/file /root/.profile /home/u/secret; stat -c "%a %u" /ro /ro/inner /root /home/u';
        for (const overlay of ['native', 'fuse', 'copy']) {
          if (overlay === 'fuse') {
            requireTool('fuse-overlayfs');
            requireTool('/dev/fuse', () => {
              accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
              return true;
            }, 'must be readable and writable by the test user');
          }
          const run = await runFlux(['run', '--verbose', '--network', 'none', image, '--', 'sh', '-c', script], { store: s, asUser, env: { FLUX_OVERLAY: overlay } });
          expect(run.stderr).toContain(`flux: rootfs: ${{ native: 'native overlayfs', fuse: 'fuse-overlayfs', copy: 'copy' }[overlay]}`);
          expect(run.stderr).not.toMatch(/internal error/);
          expect(run.code, `${overlay}: ${run.stderr}`).toBe(0);
          expect(run.stdout).toContain('inside two read-only directories\nroot profile\nuser 1000 only\n');
          // `/` is the overlay's own upper root in a run, so only the image's directories are compared.
          expect(run.stdout.trim().split('\n').slice(-4)).toEqual(['555 0', '555 0', '550 0', '500 1000']);
          // The run dir (a copy full of read-only directories, for the copy root) is gone.
          expect(readdirSync(join(s, 'runs'))).toEqual([]);
        }

        const rmi = await runFlux(['rmi', image], { store: s, asUser });
        expect(rmi.stderr).not.toMatch(/internal error/);
        expect(rmi.code, rmi.stderr).toBe(0);
        expect(rmi.stderr).toMatch(/, 2 unpacked layers/);
        expect(layerDirs(s)).toEqual([]);
        expect(readdirSync(join(s, 'tmp'))).toEqual([]);

        // Pull again, forget the image, and let prune find the read-only layers.
        expect((await runFlux(['pull', '-q', image], { store: s, asUser })).code).toBe(0);
        // Drop the image record, as a flux killed between untagging and its gc would leave it.
        execFileSync('rm', ['-f', join(s, 'index', 'images.json')]);
        // A tree of read-only directories owned by another id, as an unpack killed midway leaves it.
        const stale = join(s, 'tmp', `unpack-${'ab'.repeat(32)}-999999-x1y2z3`);
        mkdirSync(join(stale, 'ro', 'inner'), { recursive: true });
        writeFileSync(join(stale, 'ro', 'inner', 'file'), 'x\n');
        const owner = lstatSync(join(dir, 'home/u')).uid;
        for (const p of [join(stale, 'ro', 'inner', 'file'), join(stale, 'ro', 'inner'), join(stale, 'ro'), stale]) chownSync(p, owner, owner);
        for (const p of [join(stale, 'ro', 'inner'), join(stale, 'ro'), stale]) chmodSync(p, 0o555);
        const prune = await runFlux(['prune'], { store: s, asUser });
        expect(prune.stderr).not.toMatch(/internal error/);
        expect(prune.code, prune.stderr).toBe(0);
        expect(prune.stderr).toMatch(/, 2 unpacked layers,/);
        expect(layerDirs(s)).toEqual([]);
        expect(readdirSync(join(s, 'tmp'))).toEqual([]);
      } finally {
        await removeStore(s);
      }
    }, 240_000);
  }
});

