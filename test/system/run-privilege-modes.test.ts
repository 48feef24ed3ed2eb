/**
 * The same run in the other privilege modes: as real root (no user namespace, no maps) and as a
 * user without subordinate ids (single-id map, one warning).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildFixtures, userFixtureDir } from '../helpers/fixtures.js';
import { runFlux, tempStore, removeStore, isRoot, testUser, NOSUB_USER } from '../helpers/user.js';
import { DEFAULT_CAPS, capMask } from '../../src/sandbox/caps.js';

const SCRIPT = 'id -u; cat /proc/self/uid_map; ls /proc | grep -cE "^[0-9]+$"; grep ^CapEff /proc/self/status; echo data > /written; cat /written';

describe.skipIf(!isRoot)('flux run as real root', () => {
  let store: string;
  beforeAll(async () => {
    await buildFixtures(['busybox']);
    store = await tempStore('root');
    expect((await runFlux(['pull', '-q', `oci:${await userFixtureDir('busybox')}`], { store, asUser: false })).code).toBe(0);
  });
  afterAll(async () => {
    if (store) await removeStore(store);
  });

  it('runs without a user namespace, with the default capabilities and nothing left behind', async () => {
    const before = await readFile('/proc/self/mountinfo', 'utf8');
    const r = await runFlux(['run', '--verbose', '--network', 'none', `oci:${await userFixtureDir('busybox')}`, '--', 'sh', '-c', SCRIPT], { store, asUser: false });
    expect(r.code).toBe(0);
    const out = r.stdout.trim().split('\n').map((l) => l.trim());
    expect(out[0]).toBe('0');
    expect(out[1]!.split(/\s+/)).toEqual(['0', '0', '4294967295']);
    expect(Number(out[2])).toBeLessThan(6);
    expect(out[3]).toBe(`CapEff:\t${capMask(DEFAULT_CAPS)}`);
    expect(out[4]).toBe('data');
    expect(r.stderr).toContain('flux: rootfs: native overlayfs');
    expect(await readdir(join(store, 'runs'))).toEqual([]);
    expect((await readFile('/proc/self/mountinfo', 'utf8')).split('\n').length).toBe(before.split('\n').length);
  });
});

describe.skipIf(!isRoot)('flux run as a user without subordinate ids', () => {
  let store: string;
  beforeAll(async () => {
    await buildFixtures(['busybox']);
    await testUser(NOSUB_USER);
    store = await tempStore(NOSUB_USER);
    expect((await runFlux(['pull', '-q', `oci:${await userFixtureDir('busybox')}`], { store, user: NOSUB_USER })).code).toBe(0);
  });
  afterAll(async () => {
    if (store) await removeStore(store);
  });

  it('maps only the user to root, warns once, and works', async () => {
    const u = await testUser(NOSUB_USER);
    const r = await runFlux(['run', '--network', 'none', `oci:${await userFixtureDir('busybox')}`, '--', 'sh', '-c', SCRIPT], { store, user: NOSUB_USER });
    expect(r.code).toBe(0);
    const out = r.stdout.trim().split('\n').map((l) => l.trim());
    expect(out[0]).toBe('0');
    expect(out[1]!.split(/\s+/)).toEqual(['0', String(u.uid), '1']);
    expect(out[4]).toBe('data');
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('flux: warning: no subordinate ids'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${NOSUB_USER}`);
    expect(await readdir(join(store, 'runs'))).toEqual([]);
  });

  it('refuses an image user outside the single-id map in one sentence', async () => {
    const alt = `oci:${await userFixtureDir('distro-alt')}`;
    expect((await runFlux(['pull', '-q', alt], { store, user: NOSUB_USER })).code).toBe(0);
    const r = await runFlux(['run', '--network', 'none', alt, '--', 'true'], { store, user: NOSUB_USER });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/flux: the image's user app \(id 1000\) lies outside the 1 ids mapped for you\. Give yourself subordinate ids: sudo usermod/);
  });
});
