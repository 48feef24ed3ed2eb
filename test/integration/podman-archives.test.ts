/**
 * flux save → podman load, and podman save → flux load: the archives other tools read and write.
 * flux runs as the unprivileged user; podman as root, on a storage root of its own (vfs), so the
 * machine's podman images are never touched.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureInfo, userFixtureDir, type FixtureSummary } from '../helpers/fixtures.js';
import { requireTool } from '../helpers/require.js';
import { isRoot, removeStore, runFlux, tempStore } from '../helpers/user.js';

requireTool('podman');
requireTool('root', () => isRoot, 'podman runs as root here, flux as the test user');

let work: string;
let busybox: FixtureSummary;
const stores: string[] = [];

function podman(...args: string[]): string {
  return execFileSync('podman', ['--root', join(work, 'podman-root'), '--runroot', join(work, 'podman-run'), '--storage-driver', 'vfs', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

async function store(): Promise<string> {
  const s = await tempStore();
  stores.push(s);
  return s;
}

beforeAll(async () => {
  busybox = await fixtureInfo('busybox');
  work = await mkdtemp('/tmp/flux-podman-');
  await chmod(work, 0o777);
}, 120_000);

afterAll(async () => {
  for (const s of stores) await removeStore(s);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('archives shared with podman', () => {
  it('flux save of a stored image loads into podman with the same image ID and digest', async () => {
    const s = await store();
    expect((await runFlux(['pull', `oci:${await userFixtureDir('busybox')}:latest`], { store: s })).code).toBe(0);
    expect((await runFlux(['tag', `oci:${await userFixtureDir('busybox')}:latest`, 'example.com/flux/busybox:1'], { store: s })).code).toBe(0);
    for (const format of ['docker-archive', 'oci-archive']) {
      const file = join(work, `flux-${format}.tar`);
      const save = await runFlux(['save', '--format', format, '-o', file, 'example.com/flux/busybox:1'], { store: s });
      expect(save.code, save.stderr).toBe(0);
      expect(podman('load', '-q', '-i', file)).toContain('example.com/flux/busybox:1');
      const [img] = JSON.parse(podman('image', 'inspect', 'example.com/flux/busybox:1')) as Array<{ Id: string; Digest: string }>;
      expect(`sha256:${img!.Id}`).toBe(busybox.config);
      expect(img!.Digest).toBe(busybox.digest);
      podman('rmi', 'example.com/flux/busybox:1');
    }
  });

  it('podman save archives, in both formats, load into flux under their name with the same image ID', async () => {
    const s = await store();
    expect((await runFlux(['pull', `oci:${await userFixtureDir('busybox')}:latest`], { store: s })).code).toBe(0);
    const file = join(work, 'seed.tar');
    expect((await runFlux(['save', '--format', 'oci-archive', '-o', file, `oci:${await userFixtureDir('busybox')}:latest`], { store: s })).code).toBe(0);
    // An archive without a registry name: podman names it itself when tagged.
    podman('load', '-q', '-i', file);
    const id = JSON.parse(podman('image', 'inspect', '--format', 'json', busybox.config!.slice(7, 19)))[0].Id as string;
    podman('tag', id, 'example.com/podman/busybox:2');
    for (const format of ['docker-archive', 'oci-archive']) {
      const out = join(work, `podman-${format}.tar`);
      podman('save', '--format', format, '-o', out, 'example.com/podman/busybox:2');
      await chmod(out, 0o644);
      const fresh = await store();
      const load = await runFlux(['load', '-i', out], { store: fresh });
      expect(load.code, load.stderr).toBe(0);
      expect(load.stdout).toBe('Loaded image: example.com/podman/busybox:2\n');
      const list = JSON.parse((await runFlux(['images', '--json'], { store: fresh })).stdout) as Array<{ id: string }>;
      expect(list.map((i) => i.id)).toEqual([busybox.config]);
      const run = await runFlux(['run', '--network', 'none', '--pull', 'never', 'example.com/podman/busybox:2', '--', 'echo', format], { store: fresh });
      expect(run.stdout, run.stderr).toBe(`${format}\n`);
    }
  });
});
