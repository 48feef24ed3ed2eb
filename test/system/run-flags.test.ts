/**
 * The run flags docker and podman users type without thinking, as the unprivileged test user:
 * each one's output, exit code or files.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chown, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFixtures, userFixtureDir } from '../helpers/fixtures.js';
import { busyboxWith } from '../helpers/image-layer.js';
import { runFlux, runAs, tempStore, removeStore, testUser, isRoot, fluxBin, appDir, REPO_ROOT, NOSUB_USER } from '../helpers/user.js';
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

  it('says an empty one left no command when none is given after the image, and runs the one given', async () => {
    const none = await run(['--entrypoint', '', busybox]);
    expect([none.code, none.stdout]).toEqual([125, '']);
    expect(none.stderr).toMatch(/^flux: no command given, and --entrypoint "" clears the Entrypoint and Cmd of the image \S+busybox\S*\. Name the command after the image: flux run --entrypoint "" \S+ -- sh\.\n$/);
    const given = await run(['--entrypoint', '', busybox, '--', 'echo', 'given']);
    expect([given.code, given.stdout]).toEqual([0, 'given\n']);
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
        // This run's helper: its plan names a run dir in this store (other runs may be about).
        if (!cmd.includes('flux-helper') || !cmd.includes(`${store}/runs/`) || st?.uid !== u.uid) continue;
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

describe('the flags of docker and podman run scripts', () => {
  it('--add-host NAME:IP and NAME:host-gateway', async () => {
    const r = await runFlux(['run', '--add-host', 'db:10.1.2.3', '--add-host', 'gw:host-gateway', busybox, '--', 'cat', '/etc/hosts'], { store });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^10\.1\.2\.3\tdb$/m);
    const host = /^(\S+)\thost\.containers\.internal$/m.exec(r.stdout)?.[1];
    expect(host).toBeDefined();
    expect(r.stdout).toContain(`${host}\tgw\n`);
    const none = await run(['--add-host', 'gw:host-gateway', busybox, '--', 'true']);
    expect(none.code).toBe(125);
    expect(none.stderr).toMatch(/no address that reaches the host/);
    const bad = await run(['--add-host', 'db:nope', busybox, '--', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/"nope" in --add-host db:nope is not an IP address/);
  });

  it('--dns, --dns-search and --dns-option make /etc/resolv.conf', async () => {
    const r = await run(['--dns', '192.0.2.53', '--dns', '192.0.2.54', '--dns-search', 'example.test', '--dns-option', 'ndots:2', busybox, '--', 'cat', '/etc/resolv.conf']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('nameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch example.test\noptions ndots:2\n');
    const slirp = await runFlux(['run', '--dns', '192.0.2.53', busybox, '--', 'cat', '/etc/resolv.conf'], { store });
    expect(slirp.stdout).not.toContain('10.0.2.3');
    const bad = await run(['--dns', 'x', busybox, '--', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/--dns x is not an IP address/);
  });

  it('--tz ZONE and --tz local set /etc/localtime', async () => {
    const r = await run(['--tz', 'Asia/Tokyo', busybox, '--', 'date', '+%Z']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('JST\n');
    const local = await run(['--tz', 'local', busybox, '--', 'sha256sum', '/etc/localtime']);
    expect(local.code).toBe(0);
    const { createHash } = await import('node:crypto');
    expect(local.stdout.split(' ')[0]).toBe(createHash('sha256').update(await readFile('/etc/localtime')).digest('hex'));
    const bad = await run(['--tz', '../../etc/passwd', busybox, '--', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/is not a time zone name/);
    const missing = await run(['--tz', 'Mars/Olympus', busybox, '--', 'true']);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/not in this host's \/usr\/share\/zoneinfo/);
  });

  it('--unsetenv drops a variable, flux\'s own defaults too', async () => {
    const r = await run(['-e', 'A=1', '-e', 'B=2', '--unsetenv', 'A', '--unsetenv', 'HOSTNAME', '--unsetenv', 'container', busybox, '--', 'env']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^B=2$/m);
    expect(r.stdout).not.toMatch(/^(A|HOSTNAME|container)=/m);
  });

  it('--group-add adds supplementary groups, by number and by name', async () => {
    const r = await run(['-u', '1000:1000', '--group-add', '2000', '--group-add', 'nogroup', busybox, '--', 'id', '-G']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split(' ').map(Number).sort((a, b) => a - b)).toEqual([1000, 2000, 65534]);
    const bad = await run(['--group-add', 'nosuchgroup', busybox, '--', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/no such group/);
  });

  it('--ulimit sets the command\'s limits; a hard limit above the user\'s is refused', async () => {
    const r = await run(['--ulimit', 'nofile=100:200', '--ulimit', 'core=0', busybox, '--', 'sh', '-c', 'ulimit -n; ulimit -Hn; ulimit -c']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('100\n200\n0\n');
    const high = await run(['--ulimit', 'nofile=1024:99999999', busybox, '--', 'true']);
    expect(high.code).toBe(125);
    expect(high.stderr).toMatch(/hard limit above yours/);
    const bad = await run(['--ulimit', 'files=1', busybox, '--', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/"files" is not a limit/);
  });

  it('--init, --label and --stop-signal are accepted; a bad signal or label is refused', async () => {
    const r = await run(['--init', '--label', 'team=ci', '--label', 'x', '--stop-signal', 'SIGINT', busybox, '--', 'echo', 'ok']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ok\n');
    const sig = await run(['--stop-signal', 'SIGNOPE', busybox, '--', 'true']);
    expect(sig.code).toBe(125);
    expect(sig.stderr).toMatch(/--stop-signal SIGNOPE is not a signal/);
  });

  it('--timeout stops the run with its stop signal and exits 124, saying so', async () => {
    const r = await run(['--timeout', '1', '--stop-signal', 'USR1', busybox, '--', 'sh', '-c', 'trap "echo got USR1; exit 3" USR1; echo started; while :; do sleep 0.1; done']);
    expect(r.stdout).toBe('started\ngot USR1\n');
    expect(r.code).toBe(124);
    expect(r.stderr).toContain('flux: the run was stopped after 1 s (--timeout); exit code 124.');
    const quick = await run(['--timeout', '30', busybox, '--', 'sh', '-c', 'exit 7']);
    expect(quick.code).toBe(7);
    expect(quick.stderr).toBe('');
    const bad = await run(['--timeout', 'soon', busybox, '--', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toBe('flux: --timeout "soon" is not a positive number of seconds. Write --timeout 60 for a run of at most a minute.\n');
    const zero = await run(['--timeout', '0', busybox, '--', 'true']);
    expect([zero.code, zero.stderr]).toEqual([125, 'flux: --timeout "0" is not a positive number of seconds. Write --timeout 60 for a run of at most a minute.\n']);
  });
});

describe('--userns', () => {
  let owned: string;
  beforeAll(async () => {
    const u = await testUser();
    const dir = await busyboxWith([
      { name: 'owners', type: 'directory' },
      ...[1, 1000, u.uid, u.uid + 1, 5000].map((id) => ({ name: `owners/f${id}`, uid: id, gid: id, content: `${id}\n` })),
    ]);
    dirs.push(dir);
    owned = `oci:${dir}`;
    const r = await runFlux(['pull', '-q', owned], { store });
    expect(r.stderr).toBe('');
  });

  it('keep-id: the user\'s own ids inside, volumes written as the user, the image\'s owners intact', async () => {
    const u = await testUser();
    const d = await userDir();
    const r = await run(['--userns=keep-id', '-v', `${d}:/data`, owned, '--', 'sh', '-c', 'id -u; id -g; whoami; touch /data/new; stat -c %u:%g / /bin/busybox /owners/*']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const ids = [1, 1000, u.uid, u.uid + 1, 5000].sort((a, b) => a - b);
    expect(r.stdout.trim().split('\n')).toEqual([String(u.uid), String(u.gid), u.name, '0:0', '0:0', ...ids.map((i) => `${i}:${i}`)]);
    const host = await stat(join(d, 'new'));
    expect([host.uid, host.gid]).toEqual([u.uid, u.gid]);
  });

  it('keep-id:uid=N,gid=N: the user is N inside; root inside is a subordinate id', async () => {
    const u = await testUser();
    const d = await userDir();
    const r = await run(['--userns=keep-id:uid=1000,gid=1000', '-v', `${d}:/data`, busybox, '--', 'sh', '-c', 'id -u; touch /data/mine']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1000\n');
    const rootRun = await run(['--userns=keep-id:uid=1000,gid=1000', '-u', '0', '-v', `${d}:/data`, busybox, '--', 'touch', '/data/root']);
    expect(rootRun.code).toBe(0);
    expect((await stat(join(d, 'mine'))).uid).toBe(u.uid);
    expect((await stat(join(d, 'root'))).uid).toBe(await subStart('/etc/subuid'));
  });

  it('keep-id with :U gives the volume to the kept user', async () => {
    const u = await testUser();
    const d = await userDir();
    await writeFile(join(d, 'f'), 'x');
    // As if a container had written it as its id 5: a subordinate id's file.
    if (isRoot) await chown(join(d, 'f'), (await subStart('/etc/subuid')) + 4, (await subStart('/etc/subgid')) + 4);
    const r = await run(['--userns=keep-id:uid=1000,gid=1000', '-v', `${d}:/data:U`, busybox, '--', 'stat', '-c', '%u:%g', '/data/f']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1000:1000\n');
    expect((await stat(join(d, 'f'))).uid).toBe(u.uid);
  });

  it('keep-id is refused in one sentence where it cannot work', async () => {
    const copy = await run(['--userns=keep-id', busybox, '--', 'true'], { env: { FLUX_OVERLAY: 'copy' } });
    expect(copy.code).toBe(125);
    expect(copy.stderr).toMatch(/--userns=keep-id needs fuse-overlayfs .* FLUX_OVERLAY=copy rules it out/);
    const nosubStore = await tempStore(NOSUB_USER);
    try {
      const nosub = await runFlux(['run', '--network', 'none', '--userns=keep-id', busybox, '--', 'true'], { store: nosubStore, user: NOSUB_USER });
      expect(nosub.code).toBe(125);
      expect(nosub.stderr).toMatch(/needs subordinate ids around yours/);
    } finally {
      await removeStore(nosubStore);
    }
  });

  it('host: refused without real root, in one sentence; a bad mode too', async () => {
    const r = await run(['--userns=host', busybox, '--', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/--userns=host needs real root/);
    const bad = await run(['--userns=auto', busybox, '--', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/--userns=auto is not a user namespace mode/);
  });

  it.skipIf(!isRoot)('host: real root runs in the host\'s user namespace', async () => {
    const rootStore = await tempStore('root');
    try {
      const r = await runFlux(['run', '--network', 'none', '--userns=host', busybox, '--', 'cat', '/proc/self/uid_map'], { store: rootStore, asUser: false });
      expect(r.stderr).toBe('');
      expect(r.stdout.trim().split(/\s+/)).toEqual(['0', '0', '4294967295']);
    } finally {
      await removeStore(rootStore);
    }
  });
});

describe('--preserve-fds', () => {
  it('passes fds 3… on to the command, and no other', async () => {
    const d = await userDir();
    await writeFile(join(d, 'three'), 'on fd 3\n');
    await writeFile(join(d, 'four'), 'on fd 4\n');
    const bin = await fluxBin();
    const img = busybox.replace(REPO_ROOT, await appDir());
    const sh = (n: number, script: string) => `${process.execPath} ${bin} run --network none --preserve-fds ${n} ${img} -- sh -c '${script}' 3<${d}/three 4<${d}/four 5<${d}/three`;
    const r = await runAs(await testUser(), 'sh', ['-c', sh(2, 'cat <&3; cat <&4; ls /proc/self/fd | tr "\\n" " "')], { store });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // 0-2, the two preserved, and the fd ls reads the directory with: fd 5 stays behind.
    expect(r.stdout).toBe('on fd 3\non fd 4\n0 1 2 3 4 5 ');
    const none = await runAs(await testUser(), 'sh', ['-c', sh(0, 'ls /proc/self/fd | tr "\\n" " "')], { store });
    expect(none.stdout).toBe('0 1 2 3 ');
    const closed = await runAs(await testUser(), 'sh', ['-c', `${process.execPath} ${bin} run --network none --preserve-fds 3 ${img} -- true 3<${d}/three`], { store });
    expect(closed.code).toBe(125);
    expect(closed.stderr).toMatch(/no fd 4 was opened for flux/);
  });
});
