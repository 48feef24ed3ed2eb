/**
 * A detached container's writable layer outlives its command, as docker's does: a stopped
 * container keeps the files it wrote until `flux rm`; `flux rmi` refuses its image (and with -f
 * keeps the layers for it), `flux prune` never takes them; `--rm` and `flux rm` remove it all;
 * after a reboot (the runtime directory gone) `flux container prune` collects the leftover.
 * As the unprivileged test user; every wait is a poll with a deadline, no timing is asserted.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { buildFixtures, userFixtureDir } from '../helpers/fixtures.js';
import { isRoot, runFlux, removeStore, tempStore, testUser } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';
import { until } from '../helpers/containers.js';

let store: string;
let runtimes: string[] = [];
let busybox: string;

async function newRuntime(): Promise<string> {
  const user = await testUser();
  const dir = await mkdtemp('/tmp/flux-wl-runtime-');
  if (isRoot) await chown(dir, user.uid, user.gid);
  await chmod(dir, 0o700);
  runtimes.push(dir);
  return dir;
}

const fluxIn = (runtime: string) => (args: string[]) => runFlux(args, { store, env: { XDG_RUNTIME_DIR: runtime } });

/** The container's run directories in the store (the overlay's, or the copy's where overlay is refused). */
const runDirs = (id: string): string[] => readdirSync(join(store, 'runs')).filter((n) => n.startsWith(`ctr-${id}`));

/** A file as the container's writable layer holds it, whichever rootfs kind the machine gave. */
function inWritableLayer(id: string, rel: string): string | undefined {
  const dirs = [join(store, 'runs', `ctr-${id}`, 'upper'), join(store, 'runs', `ctr-${id}`, 'copy'), join(store, 'runs', `ctr-${id}.copy`, 'copy')];
  for (const p of dirs.map((d) => join(d, rel))) {
    if (existsSync(p)) return readFileSync(p, 'utf8');
  }
  return undefined;
}

const unpackedLayers = (): string[] => readdirSync(join(store, 'layers', 'sha256')).filter((n) => /^[0-9a-f]{64}$/.test(n));

beforeAll(async () => {
  requireTool('newuidmap');
  await buildFixtures(['busybox']);
  store = await tempStore();
  busybox = `oci:${await userFixtureDir('busybox')}`;
});

afterAll(async () => {
  for (const r of runtimes) {
    const left = await fluxIn(r)(['ps', '-a', '-q']);
    for (const id of left.stdout.split('\n').filter(Boolean)) await fluxIn(r)(['rm', '-f', id]);
    await rm(r, { recursive: true, force: true });
  }
  runtimes = [];
  if (store) await removeStore(store);
});

async function pulled(flux: ReturnType<typeof fluxIn>): Promise<string> {
  expect((await flux(['pull', '-q', busybox])).code).toBe(0);
  expect(JSON.parse((await flux(['images', '--json'])).stdout)).toHaveLength(1);
  return busybox;
}

async function detachWriting(flux: ReturnType<typeof fluxIn>, name: string, token: string, rm = false): Promise<string> {
  const r = await flux(['run', '-d', '--network', 'none', '--name', name, ...(rm ? ['--rm'] : []), busybox, '--', 'sh', '-c', `echo kept-${token} > /kept-${token}; echo ready; sleep ${token}`]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const id = r.stdout.trim();
  await until('the file written', async () => (await flux(['logs', id])).stdout, (out) => out === 'ready\n');
  return id;
}

describe('the writable layer of a detached container', () => {
  it('stays after stop with the files written, keeps its image\'s layers from rmi and prune, and goes with rm', async () => {
    const flux = fluxIn(await newRuntime());
    const image = await pulled(flux);
    const token = String(randomInt(100000, 999999));
    const name = `keeper-${token}`;
    const id = await detachWriting(flux, name, token);
    expect((await flux(['stop', '-t', '1', name])).code).toBe(0);
    expect(inWritableLayer(id, `kept-${token}`)).toBe(`kept-${token}\n`);
    const layers = unpackedLayers();
    expect(layers.length).toBeGreaterThan(0);

    // Removing one of two names of its image only untags: allowed.
    expect((await flux(['tag', image, 'second-name:1'])).code).toBe(0);
    const untag = await flux(['rmi', 'second-name:1']);
    expect(untag.code).toBe(0);
    expect(untag.stdout).toMatch(/^Untagged: .*second-name:1\n$/);
    // As docker: the image a stopped container was made from is not removed without -f.
    const refused = await flux(['rmi', image]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toBe(`flux: the image ${image} is used by the container ${name} (${id.slice(0, 12)}). Remove the container first (flux rm ${name}), or use flux rmi -f, which removes the image and keeps its layers for the container.\n`);
    expect(JSON.parse((await flux(['images', '--json'])).stdout)).toHaveLength(1);
    const forced = await flux(['rmi', '-f', image]);
    expect(forced.code).toBe(0);
    expect(JSON.parse((await flux(['images', '--json'])).stdout)).toEqual([]);
    // No image names the layers any more; the container does.
    expect((await flux(['prune'])).code).toBe(0);
    expect(unpackedLayers()).toEqual(layers);
    expect(inWritableLayer(id, `kept-${token}`)).toBe(`kept-${token}\n`);

    expect((await flux(['rm', name])).code).toBe(0);
    expect(runDirs(id)).toEqual([]);
    expect(readdirSync(join(store, 'runs'))).toEqual([]);
    expect((await flux(['prune'])).code).toBe(0);
    expect(unpackedLayers()).toEqual([]);
  });

  it('goes when a --rm container ends', async () => {
    const flux = fluxIn(await newRuntime());
    await pulled(flux);
    const token = String(randomInt(100000, 999999));
    const id = await detachWriting(flux, `gone-${token}`, token, true);
    expect(runDirs(id).length).toBeGreaterThan(0);
    expect((await flux(['stop', '-t', '1', id])).code).toBe(0);
    await until('its removal', async () => (await flux(['ps', '-a', '-q'])).stdout, (out) => out === '');
    expect(runDirs(id)).toEqual([]);
  });

  it('left without state by a reboot (the runtime directory gone), is collected by container prune, and only then', async () => {
    const oldRuntime = await newRuntime();
    const before = fluxIn(oldRuntime);
    await pulled(before);
    const token = String(randomInt(100000, 999999));
    const id = await detachWriting(before, `old-${token}`, token);
    expect((await before(['stop', '-t', '1', id])).code).toBe(0);
    expect(inWritableLayer(id, `kept-${token}`)).toBe(`kept-${token}\n`);
    // Another runtime directory on the same store (a shell without XDG_RUNTIME_DIR) does not
    // see the container, and its prune leaves the layer of a container whose state exists.
    const other = fluxIn(await newRuntime());
    expect((await other(['ps', '-a', '-q'])).stdout).toBe('');
    const kept = await other(['container', 'prune']);
    expect(kept.code).toBe(0);
    expect(kept.stdout).toBe('');
    expect(inWritableLayer(id, `kept-${token}`)).toBe(`kept-${token}\n`);
    // Nor does its rmi take the image that container was made from.
    const refused = await other(['rmi', busybox]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(new RegExp(`^flux: the image .* is used by the container old-${token} \\(${id.slice(0, 12)}\\)\\.`));
    expect(JSON.parse((await before(['images', '--json'])).stdout)).toHaveLength(1);
    // A reboot empties the runtime directory.
    await rm(join(oldRuntime, 'flux'), { recursive: true, force: true });
    expect((await before(['ps', '-a', '-q'])).stdout).toBe('');
    const pruned = await before(['container', 'prune']);
    expect(pruned.code).toBe(0);
    expect(pruned.stdout.split('\n')).toContain(id);
    expect(runDirs(id)).toEqual([]);
    expect(readdirSync(join(store, 'runs'))).toEqual([]);
  });
});
