/**
 * The store was trusted whoever made it: a FLUX_STORE directory another user created, or one
 * anyone may write to, was used as is, so that user could plant layers, blobs and index entries
 * for the next run. flux now refuses a store (or a directory flux keeps in it) that is not owned
 * by the user running it, is writable by group or others, or is a symlink inside the store, with
 * one sentence naming the path and the fix, and leaves the store as it found it.
 */
import { execFileSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFixtures, userFixtureDir } from '../helpers/fixtures.js';
import { requireTool } from '../helpers/require.js';
import { isRoot, NOSUB_USER, removeStore, runFlux, tempStore, testUser } from '../helpers/user.js';

let image: string;
const stores: string[] = [];

/** A store holding a pulled busybox (as root), then handed to `owner` whole. */
async function plantedStore(owner: string): Promise<string> {
  const store = await tempStore('root');
  stores.push(store);
  const pulled = await runFlux(['pull', '-q', image], { store, asUser: false });
  expect(pulled.code).toBe(0);
  execFileSync('chown', ['-R', `${owner}:`, store]);
  execFileSync('chmod', ['-R', 'a+rX', store]);
  return store;
}

/** Every entry of the store with its owner, mode, size and mtime. */
function snapshot(store: string): string {
  return execFileSync('find', [store, '-printf', '%p %U %G %m %s %T@ %l\n'], { encoding: 'utf8' }).split('\n').sort().join('\n');
}

async function refused(store: string, asUser = true): Promise<string> {
  const before = snapshot(store);
  const listed = await runFlux(['images'], { store, asUser });
  const pulled = await runFlux(['pull', '-q', image], { store, asUser });
  expect(snapshot(store)).toBe(before);
  for (const r of [listed, pulled]) {
    expect(r.stdout).not.toContain('busybox');
    expect(r.code).toBe(125);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }
  expect(pulled.stderr).toBe(listed.stderr);
  return listed.stderr;
}

beforeAll(async () => {
  requireTool('root', () => isRoot, 'stores of other users are made with chown');
  requireTool('newuidmap');
  await buildFixtures(['busybox']);
  image = `oci:${await userFixtureDir('busybox')}`;
}, 120_000);

afterAll(async () => {
  for (const s of stores) await removeStore(s);
});

describe('a store not the user\'s own is refused', () => {
  it('a store another user owns', async () => {
    const other = await testUser(NOSUB_USER);
    const store = await plantedStore(NOSUB_USER);
    const msg = await refused(store);
    expect(msg).toContain(`flux: the image store directory ${store} is owned by uid ${other.uid}, not by you (uid ${(await testUser()).uid}), so that user could have planted images in it.`);
    expect(msg).toContain('Point FLUX_STORE at a directory you own');
  }, 120_000);

  it('the user\'s own store, once writable by others (chmod o+w)', async () => {
    const store = await plantedStore((await testUser()).name);
    execFileSync('chmod', ['o+w', store]);
    const msg = await refused(store);
    expect(msg).toContain(`flux: the image store directory ${store} is writable by all users (mode 0757), so others could have planted images in it.`);
    expect(msg).toContain(`chmod go-w ${store}`);
  }, 120_000);

  it('a store directory writable by its group, or owned by another user, inside the user\'s store', async () => {
    const store = await plantedStore((await testUser()).name);
    execFileSync('chmod', ['g+w', `${store}/index`]);
    expect(await refused(store)).toContain(`${store}/index is writable by its group (mode 0775)`);
    execFileSync('chmod', ['g-w', `${store}/index`]);
    execFileSync('chown', [`${NOSUB_USER}:`, `${store}/layers/sha256`]);
    expect(await refused(store)).toContain(`${store}/layers/sha256 is owned by uid ${(await testUser(NOSUB_USER)).uid}`);
  }, 120_000);

  it('a symlink in place of a store directory', async () => {
    const store = await plantedStore((await testUser()).name);
    execFileSync('mv', [`${store}/index`, `${store}/index-elsewhere`]);
    symlinkSync(`${store}/index-elsewhere`, `${store}/index`);
    execFileSync('chown', ['-h', `${(await testUser()).name}:`, `${store}/index`]);
    expect(await refused(store)).toContain(`the image store path ${store}/index is not a directory (a symlink inside the store is not followed).`);
  }, 120_000);

  it('as real root: a store the test user owns', async () => {
    const u = await testUser();
    const store = await plantedStore(u.name);
    const msg = await refused(store, false);
    expect(msg).toContain(`is owned by uid ${u.uid}, not by you (uid 0)`);
  }, 120_000);
});
