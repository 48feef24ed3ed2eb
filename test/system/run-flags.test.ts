/**
 * The run flags docker and podman users type without thinking, as the unprivileged test user:
 * each one's output, exit code or files.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chown, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFixtures, userFixtureDir } from '../helpers/fixtures.js';
import { runFlux, tempStore, removeStore, testUser, isRoot } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

let store: string;
let busybox: string;

const run = (args: string[], opts: Parameters<typeof runFlux>[1] = {}) => runFlux(['run', '--network', 'none', ...args], { store, ...opts });

beforeAll(async () => {
  requireTool('newuidmap');
  await buildFixtures(['busybox']);
  store = await tempStore();
  busybox = `oci:${await userFixtureDir('busybox')}`;
  const r = await runFlux(['pull', '-q', busybox], { store });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
});

const dirs: string[] = [];

afterAll(async () => {
  if (store) await removeStore(store);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A directory of the test user's, for volumes. */
async function userDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'flux-vol-'));
  dirs.push(d);
  const u = await testUser();
  if (isRoot) await chown(d, u.uid, u.gid);
  return d;
}

/** The first id of the test user's subordinate range (id 1 in the container). */
async function subStart(file: '/etc/subuid' | '/etc/subgid'): Promise<number> {
  const u = await testUser();
  const line = (await readFile(file, 'utf8')).split('\n').find((l) => l.startsWith(`${u.name}:`) || l.startsWith(`${u.uid}:`))!;
  return Number(line.split(':')[1]);
}

describe('--entrypoint', () => {
  it('takes the JSON-array form as the whole entrypoint argv', async () => {
    const r = await run(['--entrypoint', '["/bin/echo","x", "y z"]', busybox]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('x y z\n');
    const args = await run(['--entrypoint', '["/bin/echo","x"]', busybox, 'more']);
    expect(args.stdout).toBe('x more\n');
  });

  it('refuses a broken JSON array in one sentence', async () => {
    const r = await run(['--entrypoint', '["/bin/echo",', busybox]);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/is not one of strings/);
  });
});

describe('volume options as docker and podman write them', () => {
  it('accepts z, Z and comma lists, with ro enforced and rw writable', async () => {
    const d = await userDir();
    const rw = await run(['-v', `${d}:/data:rw,z`, busybox, '--', 'sh', '-c', 'echo a > /data/a && cat /data/a']);
    expect(rw.stderr).toBe('');
    expect(rw.code).toBe(0);
    expect(rw.stdout).toBe('a\n');
    const z = await run(['-v', `${d}:/data:Z`, busybox, '--', 'cat', '/data/a']);
    expect(z.code).toBe(0);
    expect(z.stdout).toBe('a\n');
    const ro = await run(['-v', `${d}:/data:ro,Z`, busybox, '--', 'sh', '-c', 'echo b > /data/b']);
    expect(ro.code).not.toBe(0);
    expect(ro.stderr).toMatch(/Read-only file system/);
  });

  it('says with --verbose that z and Z have nothing to do', async () => {
    const d = await userDir();
    const r = await run(['--verbose', '-v', `${d}:/data:Z`, busybox, '--', 'true']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/option Z accepted; (this host has no SELinux|flux does not relabel)/);
  });

  it('refuses an unknown option naming the ones there are', async () => {
    const d = await userDir();
    const r = await run(['-v', `${d}:/data:rx`, busybox, '--', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/invalid volume option "rx".*ro, rw, z, Z and U/s);
  });

  it('U gives the volume to the container user, so it can write it', async () => {
    const d = await userDir();
    await writeFile(join(d, 'old'), 'x');
    if (isRoot) await chown(join(d, 'old'), (await testUser()).uid, (await testUser()).gid);
    const denied = await run(['-u', '1000:1000', '-v', `${d}:/data`, busybox, '--', 'touch', '/data/new']);
    expect(denied.code).not.toBe(0);
    const r = await run(['-u', '1000:1000', '-v', `${d}:/data:rw,U`, busybox, '--', 'sh', '-c', 'touch /data/new && stat -c %u:%g /data /data/old /data/new']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('1000:1000\n1000:1000\n1000:1000\n');
    const host = await stat(join(d, 'new'));
    expect(host.uid).toBe((await subStart('/etc/subuid')) + 999);
    expect(host.gid).toBe((await subStart('/etc/subgid')) + 999);
  });

  it('--mount type=bind with readonly, and type=tmpfs with a size', async () => {
    const d = await userDir();
    const w = await run(['--mount', `type=bind,source=${d},target=/data`, busybox, '--', 'sh', '-c', 'echo m > /data/m && cat /data/m']);
    expect(w.stderr).toBe('');
    expect(w.stdout).toBe('m\n');
    const ro = await run(['--mount', `type=bind,src=${d},dst=/data,readonly`, busybox, '--', 'sh', '-c', 'cat /data/m; echo n > /data/n']);
    expect(ro.stdout).toBe('m\n');
    expect(ro.stderr).toMatch(/Read-only file system/);
    expect(ro.code).not.toBe(0);
    const t = await run(['--mount', 'type=tmpfs,target=/scratch,tmpfs-size=1m,tmpfs-mode=1770', busybox, '--', 'sh', '-c', 'grep " /scratch " /proc/mounts; stat -c %a /scratch']);
    expect(t.stderr).toBe('');
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/^\S+ \/scratch tmpfs rw,nosuid,nodev,.*size=1024k,mode=1770/);
    expect(t.stdout.trim().split('\n')[1]).toBe('1770');
    const tf = await run(['--tmpfs', '/s2:size=2m,noexec', busybox, '--', 'grep', ' /s2 ', '/proc/mounts']);
    expect(tf.stdout).toMatch(/nosuid,nodev,noexec,.*size=2048k/);
  });

  it('--mount refuses named volumes and unknown keys in one sentence', async () => {
    const a = await run(['--mount', 'type=volume,source=data,target=/data', busybox, '--', 'true']);
    expect(a.code).toBe(125);
    expect(a.stderr).toMatch(/named volume/);
    const b = await run(['--mount', 'type=tmpfs,target=/t,colour=red', busybox, '--', 'true']);
    expect(b.code).toBe(125);
    expect(b.stderr).toMatch(/"colour" is not an option of type=tmpfs/);
  });
});

describe('the container\'s own view', () => {
  it('/run/.containerenv in podman\'s format', async () => {
    const r = await run(['--name', 'web1', busybox, '--', 'cat', '/run/.containerenv']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^engine="flux-\d+\.\d+\.\d+"$/);
    expect(lines[1]).toBe('name="web1"');
    expect(lines[2]).toMatch(/^id="[0-9a-f]{64}"$/);
    expect(lines[3]).toMatch(/^image="oci:\/.*\/fixtures\/out\/busybox"$/);
    expect(lines[4]).toMatch(/^imageid="[0-9a-f]{64}"$/);
    expect(lines[5]).toBe('rootless=1');
    const anon = await run([busybox, '--', 'sh', '-c', 'cat /run/.containerenv; hostname']);
    const host = anon.stdout.trim().split('\n').pop()!;
    expect(anon.stdout).toContain(`name="${host}"`);
    expect(anon.stdout).toMatch(new RegExp(`id="${host}[0-9a-f]{52}"`));
  });

  it('container=flux in the environment of the command and of pid 1', async () => {
    const r = await run([busybox, '--', 'sh', '-c', 'echo $container']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('flux\n');
    // pid 1 (flux's init) is not dumpable, so the container cannot read its environ: the host can.
    const u = await testUser();
    const running = run([busybox, '--', 'sleep', '3']);
    let environ: string | undefined;
    for (let i = 0; i < 100 && environ === undefined; i++) {
      for (const pid of (await readdir('/proc')).filter((d) => /^\d+$/.test(d))) {
        const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        const st = await stat(`/proc/${pid}`).catch(() => undefined);
        if (!cmd.includes('flux-helper') || st?.uid !== u.uid) continue;
        const env = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => undefined);
        if (env !== undefined) environ = env;
      }
      if (environ === undefined) await new Promise((res) => setTimeout(res, 30));
    }
    expect((await running).code).toBe(0);
    expect(environ?.split('\0')).toContain('container=flux');
    const e = await run(['-e', 'container=other', busybox, '--', 'sh', '-c', 'echo $container']);
    expect(e.stdout).toBe('other\n');
  });

  it('/etc/hosts names the container and the host', async () => {
    const none = await run(['--name', 'web1', '--hostname', 'box', busybox, '--', 'cat', '/etc/hosts']);
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/^127\.0\.1\.1\tbox web1$/m);
    // --network none reaches no host: no name for it.
    expect(none.stdout).not.toContain('host.containers.internal');
    const slirp = await runFlux(['run', '--name', 'web2', '--hostname', 'box', busybox, '--', 'cat', '/etc/hosts'], { store });
    expect(slirp.stderr).toBe('');
    expect(slirp.stdout).toMatch(/^10\.0\.2\.100\tbox web2$/m);
    expect(slirp.stdout).toMatch(/^\d+\.\d+\.\d+\.\d+\thost\.containers\.internal$/m);
    const host = await runFlux(['run', '--network', 'host', busybox, '--', 'grep', 'host.containers.internal', '/etc/hosts'], { store });
    expect(host.stdout).toBe('127.0.0.1\thost.containers.internal\n');
  });
});
