/**
 * --privileged as real root asks for every capability. Where root's bounding set lacks some (a
 * host, or a container, that dropped CAP_SYS_RESOURCE, say), capset failed with EPERM and no
 * privileged run started. The command now gets every capability the bounding set still holds.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile } from 'node:fs/promises';
import { userFixtureDir } from '../helpers/fixtures.js';
import { runFlux, tempStore, removeStore, isRoot } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

let store: string;

/** A capability line of /proc/self/status, e.g. CapBnd, as its hex mask. */
const capLine = (status: string, name: string) => status.match(new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm'))?.[1];

beforeAll(async () => {
  requireTool('real root', () => isRoot, '--privileged is tested as real root');
  store = await tempStore('root');
  expect((await runFlux(['pull', '-q', `oci:${await userFixtureDir('busybox')}`], { store, asUser: false })).code).toBe(0);
}, 300_000);

afterAll(async () => {
  if (store) await removeStore(store);
});

describe('flux run --privileged as real root', () => {
  it('runs with every capability of the bounding set', async () => {
    const bounding = capLine(await readFile('/proc/self/status', 'utf8'), 'CapBnd');
    expect(bounding).toMatch(/^[0-9a-f]{16}$/);
    const r = await runFlux(['run', '--privileged', '--network', 'none', `oci:${await userFixtureDir('busybox')}`, '--', 'cat', '/proc/self/status'], { store, asUser: false });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const set of ['CapPrm', 'CapEff', 'CapBnd']) expect([set, capLine(r.stdout, set)]).toEqual([set, bounding]);
  });
});
