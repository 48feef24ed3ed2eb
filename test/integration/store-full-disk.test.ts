/**
 * A store whose disk is full, and what the user can still do with it: every store write says so
 * in one sentence naming the store and the fix (never "internal error"), `flux rmi` still frees
 * the image, and `flux prune` frees the writable layer of a run whose flux was killed.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync, statfsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureInfo, pushFixtures, type FixtureSummary } from '../helpers/fixtures.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { requireTool } from '../helpers/require.js';
import { fluxBin, isRoot, removeStore, runAs, runFlux, tempStore, testUser, USER_PATH, type RunResult } from '../helpers/user.js';

requireTool('docker-registry');
requireTool('skopeo');

let reg: Registry;
let busybox: FixtureSummary;
let image: string;

beforeAll(async () => {
  reg = await startRegistry();
  await pushFixtures(reg, ['busybox']);
  busybox = await fixtureInfo('busybox');
  image = `${reg.host}/busybox:latest`;
}, 300_000);

afterAll(async () => {
  await reg?.stop();
});

function oneSentence(r: RunResult): string {
  expect(r.code).not.toBe(0);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('flux: '));
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).not.toMatch(/internal error/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

function names(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** A tmpfs owned by the test user as its store, with `body` run on it; unmounted afterwards. */
async function onSmallDisk(body: (store: string) => Promise<void>): Promise<void> {
  requireTool('root', () => isRoot, 'mounting a tmpfs');
  requireTool('mount');
  const user = await testUser();
  const mnt = await mkdtemp('/tmp/flux-full-store-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=60m,uid=${user.uid},gid=${user.gid},mode=0700`, 'flux-full-store', mnt]);
  try {
    await body(mnt);
  } finally {
    execFileSync('umount', [mnt]);
    await rm(mnt, { recursive: true, force: true });
  }
}

/** Fills the file system as the test user, to the last block (dd ends with ENOSPC). */
async function fill(store: string, name = 'filler'): Promise<void> {
  await runAs(await testUser(), 'dd', ['if=/dev/zero', `of=${join(store, name)}`, 'bs=64K']);
  await runAs(await testUser(), 'dd', ['if=/dev/zero', `of=${join(store, `${name}-tail`)}`, 'bs=1K']);
  expect(statfsSync(store).bavail).toBe(0);
}

describe('a full disk under the store', () => {
  it('flux rmi still frees the image; nothing it leaves is inconsistent', { timeout: 180_000 }, async () => {
    await onSmallDisk(async (store) => {
      const pull = await runFlux(['pull', '-q', image], { store });
      expect(pull.code, pull.stderr).toBe(0);
      await fill(store);

      const rmi = await runFlux(['rmi', image], { store });
      expect(rmi.code, rmi.stderr).toBe(0);
      expect(statfsSync(store).bavail).toBeGreaterThan(0);
      const images = await runFlux(['images', '--json'], { store });
      expect(images.code, images.stderr).toBe(0);
      expect(JSON.parse(images.stdout)).toEqual([]);
      expect(names(join(store, 'layers', 'sha256'))).toEqual([]);
      expect(names(join(store, 'blobs', 'sha256'))).toEqual([]);
      expect(names(join(store, 'index')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    });
  });

  it('rmi of one of two names frees nothing, says so in one sentence, and changes nothing', { timeout: 180_000 }, async () => {
    await onSmallDisk(async (store) => {
      expect((await runFlux(['pull', '-q', image], { store })).code).toBe(0);
      expect((await runFlux(['tag', image, `${reg.host}/other:1`], { store })).code).toBe(0);
      await fill(store);
      const layers = names(join(store, 'layers', 'sha256'));
      const blobs = names(join(store, 'blobs', 'sha256'));

      const line = oneSentence(await runFlux(['rmi', image], { store }));
      expect(line).toContain(`no space left on the device holding the image store ${store}`);
      expect(line).toContain('flux prune');
      expect(names(join(store, 'layers', 'sha256'))).toEqual(layers);
      expect(names(join(store, 'blobs', 'sha256'))).toEqual(blobs);
      const images = await runFlux(['images', '--json'], { store });
      expect((JSON.parse(images.stdout) as Array<{ reference: string }>).map((i) => i.reference).sort()).toEqual([`${reg.host}/busybox:latest`, `${reg.host}/other:1`]);
    });
  });

  it('tag, run and load from stdin each end in one sentence naming the store, never "internal error"', { timeout: 180_000 }, async () => {
    await onSmallDisk(async (store) => {
      expect((await runFlux(['pull', '-q', image], { store })).code).toBe(0);
      const archive = await runFlux(['save', '-o', join(store, 'bb.tar'), image], { store });
      expect(archive.code, archive.stderr).toBe(0);
      expect((await runFlux(['rmi', image], { store })).code).toBe(0);
      expect((await runFlux(['load', '-i', join(store, 'bb.tar')], { store })).code).toBe(0);
      await fill(store);

      const tag = oneSentence(await runFlux(['tag', image, `${reg.host}/other:1`], { store }));
      expect(tag).toContain(`no space left on the device holding the image store ${store} while writing the image index (ENOSPC)`);
      expect(tag).toContain('flux prune');

      const run = oneSentence(await runFlux(['run', '--network', 'none', '--pull=never', image, '--', 'true'], { store }));
      expect(run).toMatch(/\(ENOSPC\)/);
      expect(run).toContain(`${store}/runs/`);
      expect(run).toContain('flux prune');

      await rm(join(store, 'filler-tail'));
      await runAs(await testUser(), 'dd', ['if=/dev/zero', `of=${join(store, 'filler-tail')}`, 'bs=1K', `count=${Math.max(0, Number(statfsSync(store).bavail) * 4 - 500)}`]);
      // The archive comes on stdin: flux spools it into the store's tmp/, where it does not fit.
      const load = oneSentence(await runAs(await testUser(), 'sh', ['-c', `exec "${process.execPath}" "${await fluxBin()}" load < "${join(store, 'bb.tar')}"`], { store }));
      expect(load).toContain(`no space left on the device holding the image store ${store}`);
      expect(load).toContain('flux prune');
    });
  });
});

describe('flux prune after a killed run', () => {
  it('removes the dead run\'s writable layer and counts its bytes', { timeout: 180_000 }, async () => {
    const store = await tempStore();
    try {
      expect((await runFlux(['pull', '-q', image], { store })).code).toBe(0);
      const user = await testUser();
      const env = [`HOME=${user.home}`, `PATH=${USER_PATH}`, `FLUX_STORE=${store}`];
      const argv = [await fluxBin(), 'run', '--network', 'none', image, '--', 'sh', '-c', 'dd if=/dev/zero of=/big bs=1M count=20 2>/dev/null; touch /written; sleep 60'];
      const child = isRoot
        ? spawn('runuser', ['-u', user.name, '--', 'env', '-i', ...env, process.execPath, ...argv], { detached: true, stdio: 'ignore' })
        : spawn(process.execPath, argv, { detached: true, stdio: 'ignore', env: { ...process.env, FLUX_STORE: store } });
      const runs = join(store, 'runs');
      let rundir: string | undefined;
      const deadline = Date.now() + 60_000;
      while (!rundir) {
        rundir = names(runs).map((n) => join(runs, n)).find((d) => existsSync(join(d, 'upper', 'written')));
        if (!rundir && Date.now() > deadline) throw new Error('the run never wrote its file');
        if (!rundir) await sleep(100);
      }
      expect(statSync(join(rundir, 'upper', 'big')).size).toBe(20 << 20);
      // Every process of the run's group, flux first among them: as kill -9 of a terminal's job.
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(-child.pid!, 'SIGKILL');
      await exited;

      const prune = await runFlux(['prune'], { store });
      expect(prune.code, prune.stderr).toBe(0);
      expect(prune.stderr).toContain('1 run directories');
      const freed = Number(/freed (\d+) bytes/.exec(prune.stdout)?.[1]);
      expect(freed).toBeGreaterThanOrEqual(20 << 20);
      expect(names(runs)).toEqual([]);
      // The image is still whole: its layers stay, only the dead run's directory went.
      expect(names(join(store, 'layers', 'sha256')).filter((n) => /^[a-f0-9]{64}$/.test(n))).toEqual(busybox.diffIds!.map((d) => d.slice(7)).sort());
    } finally {
      await removeStore(store);
    }
  });
});
