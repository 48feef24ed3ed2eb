/**
 * The store's tmp/, where each layer is unpacked into a fresh directory, and runs/, where each
 * run makes its upper dir, carry ext4's TOPDIR attribute after an unpack, rootless and as root,
 * in a new store and in one made before flux set it: each of their new directories then gets a
 * block group of its own (native/topdir.c says why). Other filesystems have no such attribute;
 * there the unpack must simply work.
 */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdtemp } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFixtures, userFixtureDir } from '../helpers/fixtures.js';
import { requireTool } from '../helpers/require.js';
import { appDir, isRoot, removeStore, runAs, tempStore, testUser } from '../helpers/user.js';
import { FS_TOPDIR_FL, clearTopdir, inodeFlags, isExt } from '../helpers/inode-flags.js';

const DRIVER_SRC = new URL('../../fixtures/hostile/unpack-driver.mjs', import.meta.url).pathname;
let work: string;
let driver: string;
let fixtures: string;

async function unpack(user: string, store: string, image: string): Promise<void> {
  const r = await runAs(user, process.execPath, [driver, await appDir(), store, join(fixtures, image)], { timeoutMs: 120_000 });
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { ok?: boolean; error?: unknown };
  expect(out.error, r.stderr).toBeUndefined();
  expect(out.ok).toBe(true);
}

beforeAll(async () => {
  await buildFixtures(['busybox', 'multilayer']);
  fixtures = dirname(await userFixtureDir('busybox'));
  work = await mkdtemp('/tmp/flux-topdir-it-');
  driver = join(work, 'unpack-driver.mjs');
  await copyFile(DRIVER_SRC, driver);
  execFileSync('chmod', ['-R', 'a+rX', work]);
}, 300_000);

afterAll(async () => {
  if (work) execFileSync('rm', ['-rf', work]);
});

describe.skipIf(!isRoot)('the unpack directory of a store spreads its layers over block groups', () => {
  for (const who of ['the unprivileged user', 'root'] as const) {
    it(`gives tmp/ and runs/ the TOPDIR attribute on ext2/3/4, in a new store and an older one (${who})`, async () => {
      if (who === 'the unprivileged user') {
        requireTool('newuidmap');
        requireTool('unshare');
      }
      const user = who === 'root' ? 'root' : (await testUser()).name;
      const store = await tempStore(who === 'root' ? 'root' : undefined);
      try {
        await unpack(user, store, 'busybox');
        const dirs = [join(store, 'tmp'), join(store, 'runs')];
        if (!isExt(store)) return; // no such attribute here: the unpack working is all there is to check
        for (const d of dirs) expect(inodeFlags(d) & FS_TOPDIR_FL, d).toBe(FS_TOPDIR_FL);

        // A store from before: the next unpack gives it the attribute too.
        for (const d of dirs) clearTopdir(d);
        for (const d of dirs) expect(inodeFlags(d) & FS_TOPDIR_FL, d).toBe(0);
        await unpack(user, store, 'multilayer');
        for (const d of dirs) expect(inodeFlags(d) & FS_TOPDIR_FL, d).toBe(FS_TOPDIR_FL);
      } finally {
        await removeStore(store);
      }
    }, 180_000);
  }
});
