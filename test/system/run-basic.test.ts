/**
 * `flux run` as the unprivileged test user: namespaces, ids, mounts, exit codes, signals, the
 * image's config, and nothing left behind.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { mkdtemp, readdir, readFile, chmod, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFixtures, userFixtureDir } from '../helpers/fixtures.js';
import { runFlux, runAs, tempStore, removeStore, testUser, isRoot, fluxBin, USER_PATH } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';
import { DEFAULT_CAPS, capMask } from '../../src/sandbox/caps.js';

let store: string;
let busybox: string;
let alt: string;

const run = (args: string[], opts: Parameters<typeof runFlux>[1] = {}) => runFlux(['run', '--network', 'none', ...args], { store, ...opts });

async function runDirsEmpty(): Promise<string[]> {
  return readdir(join(store, 'runs')).catch(() => []);
}

/** flux as the test user, its signals going straight to it (setpriv execs; runuser would stay in between and answer them). */
async function spawnFlux(args: string[], extraEnv: Record<string, string> = {}, stdio: StdioOptions = 'ignore'): Promise<ChildProcess> {
  const user = await testUser();
  const bin = await fluxBin();
  const env = { HOME: user.home, PATH: USER_PATH, FLUX_STORE: store, ...extraEnv };
  return isRoot
    ? spawn('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', 'env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, bin, ...args], { stdio, cwd: '/' })
    : spawn(process.execPath, [bin, ...args], { stdio, env });
}

function hostMounts(): Promise<string> {
  return readFile('/proc/self/mountinfo', 'utf8');
}

beforeAll(async () => {
  requireTool('newuidmap');
  await buildFixtures(['busybox', 'distro-alt']);
  store = await tempStore();
  busybox = `oci:${await userFixtureDir('busybox')}`;
  alt = `oci:${await userFixtureDir('distro-alt')}`;
  for (const img of [busybox, alt]) {
    const r = await runFlux(['pull', '-q', img], { store });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  }
});

afterAll(async () => {
  if (store) await removeStore(store);
});

describe('flux run as the unprivileged user', () => {
  it('is root in a user namespace mapping the subordinate range', async () => {
    const user = await testUser();
    const r = await run([busybox, '--', 'sh', '-c', 'id -u; id -g; cat /proc/self/uid_map']);
    expect(r.code).toBe(0);
    const [uid, gid, ...map] = r.stdout.trim().split('\n');
    expect(uid).toBe('0');
    expect(gid).toBe('0');
    const rows = map.map((l) => l.trim().split(/\s+/).map(Number));
    expect(rows[0]).toEqual([0, user.uid, 1]);
    if (isRoot) {
      const sub = (await readFile('/etc/subuid', 'utf8')).split('\n').find((l) => l.startsWith(`${user.name}:`))!.split(':');
      expect(rows[1]).toEqual([1, Number(sub[1]), Number(sub[2])]);
    }
  });

  it('sees only its own processes, with the init as pid 1', async () => {
    const r = await run([busybox, '--', 'sh', '-c', 'ls /proc | grep -E "^[0-9]+$" | sort -n | tr "\\n" " "; echo; cat /proc/1/cmdline | tr "\\0" " "']);
    expect(r.code).toBe(0);
    const [pids = '', init = ''] = r.stdout.split('\n');
    const list = pids.trim().split(' ').map(Number);
    expect(list[0]).toBe(1);
    // init, sh, and the pipeline's processes: a handful, never the host's hundreds
    expect(list.length).toBeLessThan(8);
    expect(init.trim()).toBe('flux-init');
  });

  it('has its own hostname, default and --hostname', async () => {
    const a = await run([busybox, '--', 'hostname']);
    expect(a.code).toBe(0);
    expect(a.stdout.trim()).toMatch(/^[0-9a-f]{12}$/);
    const b = await run(['--hostname', 'box1', busybox, '--', 'sh', '-c', 'hostname; cat /etc/hostname; echo $HOSTNAME']);
    expect(b.stdout.trim().split('\n')).toEqual(['box1', 'box1', 'box1']);
  });

  it('refuses a --hostname or --name that would add lines to /etc/hosts, foreground and detached', async () => {
    const injected = 'a\n6.6.6.6 evil.example';
    for (const [flags, message] of [
      [['--hostname', injected], /^flux: --hostname "a\\n6\.6\.6\.6 evil\.example" is not a host name\./],
      [['-d', '--hostname', injected], /^flux: --hostname "a\\n6\.6\.6\.6 evil\.example" is not a host name\./],
      [['--hostname', 'two words'], /^flux: --hostname "two words" is not a host name\./],
      [['--hostname', ''], /^flux: --hostname "" is not a host name\./],
      [['--hostname', 'h'.repeat(64)], /^flux: --hostname "h{64}" is not a host name\./],
      [['--name', injected], /^flux: the container name "a\\n6\.6\.6\.6 evil\.example" is not valid\./],
    ] as const) {
      const r = await run([...flags, busybox, '--', 'cat', '/etc/hosts']);
      expect([flags, r.code, r.stdout]).toEqual([flags, 125, '']);
      expect(r.stderr).toMatch(message);
    }
    const longest = await run(['--hostname', 'h'.repeat(63), busybox, '--', 'hostname']);
    expect(longest.stdout.trim()).toBe('h'.repeat(63));
  });

  it('has /etc/hosts, /etc/hostname and /etc/resolv.conf of its own, writable, even with --read-only', async () => {
    const hostHosts = await readFile('/etc/hosts', 'utf8');
    const script = 'echo 10.9.9.9 extra >> /etc/hosts && tail -1 /etc/hosts; head -1 /etc/resolv.conf; grep -c box2 /etc/hosts; cat /etc/hostname';
    for (const extra of [[], ['--read-only']]) {
      const r = await run([...extra, '--hostname', 'box2', busybox, '--', 'sh', '-c', script]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.split('\n')).toEqual(['10.9.9.9 extra', '# no network (--network none)', '1', 'box2', '']);
    }
    expect(await readFile('/etc/hosts', 'utf8')).toBe(hostHosts);
    expect(await runDirsEmpty()).toEqual([]);
  });

  it('writes nothing to the run\'s upper dir on the host disk for a command that writes nothing', async () => {
    // The /etc files come from a layer in memory: the image has none, and making them would copy /etc up.
    // The command says it runs, then waits on its stdin for the test to have looked.
    const child = await spawnFlux(['run', '--network', 'none', '-i', busybox, '--', 'sh', '-c', 'cat /etc/hostname >/dev/null; echo running; read line'], {}, ['pipe', 'pipe', 'ignore']);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const running = await new Promise<boolean>((resolve) => {
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('running\n')) resolve(true);
      });
      void exited.then(() => resolve(false));
    });
    expect(running).toBe(true);
    const dirs = await runDirsEmpty();
    expect(dirs).toHaveLength(1);
    const upper = await readdir(join(store, 'runs', dirs[0]!, 'upper'));
    child.stdin!.end('go\n');
    expect(upper).toEqual([]);
    expect(await exited).toBe(0);
  });

  it('has the image as / and no host path reachable', async () => {
    const r = await run([busybox, '--', 'sh', '-c', `ls /; test -e ${store} && echo STORE; test -e /work && echo WORK; test -e /home/fluxtest && echo HOME; cat /proc/self/mountinfo | wc -l`]);
    expect(r.code).toBe(0);
    const out = r.stdout.split('\n');
    expect(out).toContain('bin');
    expect(out).not.toContain('STORE');
    expect(out).not.toContain('WORK');
    expect(out).not.toContain('HOME');
  });

  it('forgets files written inside and leaves no run dir, mount or process', async () => {
    const before = await hostMounts();
    // Directories the run dir's removal must open up: unreadable, unwritable, nested.
    const w = await run([busybox, '--', 'sh', '-c', 'echo x > /marker && mkdir -p /deep/a/b && touch /deep/a/b/f && chmod 000 /deep/a && mkdir /ro && touch /ro/f && chmod 555 /ro && cat /marker']);
    expect(w.stdout.trim()).toBe('x');
    const r = await run([busybox, '--', 'sh', '-c', 'test -e /marker && echo FOUND || echo gone']);
    expect(r.stdout.trim()).toBe('gone');
    expect(await runDirsEmpty()).toEqual([]);
    const after = await hostMounts();
    expect(after.split('\n').length).toBe(before.split('\n').length);
    expect(after).not.toContain(store);
  });

  it.each([
    [['true'], 0],
    [['sh', '-c', 'exit 3'], 3],
    [['sh', '-c', 'kill -TERM $$'], 143],
  ])('passes the exit status of %j on (%i)', async (cmd, code) => {
    const r = await run([busybox, '--', ...cmd]);
    expect(r.code).toBe(code);
  });

  it('refuses a run that fails after the sandbox helper started in one sentence, and leaves nothing', async () => {
    // The helper starts before the image is read; each of these is found out after that.
    const cases: Array<[string[], RegExp]> = [
      [['--pull', 'never', 'localhost:5999/no-such-image:1'], /^flux: the image localhost:5999\/no-such-image:1 is not in the store, and --pull=never forbids fetching it\. /],
      [['-u', '70000', busybox], /^flux: the user 70000 of -u \(id 70000\) lies outside the \d+ ids mapped for you\. /],
      [['-u', 'nosuchuser', busybox], /^flux: cannot run as user "nosuchuser": no user named "nosuchuser" in the image's \/etc\/passwd\. /],
    ];
    for (const [args, sentence] of cases) {
      const r = await run([...args, '--', 'echo', 'THE-COMMAND-RAN']);
      expect(r.code, r.stderr).toBe(125);
      expect(r.stdout).toBe('');
      // One line: the helper leaves without a word of its own.
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(r.stderr).toMatch(sentence);
    }
    expect(await runDirsEmpty()).toEqual([]);
  });

  it('exits 127 for a missing command and 126 for a non-executable one, in one sentence', async () => {
    const a = await run([busybox, '--', 'no-such-cmd']);
    expect(a.code).toBe(127);
    expect(a.stderr).toBe('flux: no-such-cmd: executable file not found in $PATH. Check the command name, or the image\'s PATH.\n');
    const b = await run([busybox, '--', '/etc/passwd']);
    expect(b.code).toBe(126);
    expect(b.stderr).toMatch(/^flux: \/etc\/passwd: permission denied\./);
    expect(await runDirsEmpty()).toEqual([]);
  });

  it('reaps zombies left by the command', async () => {
    // sh starts a child that exits at once and execs away: the child becomes init's to reap.
    // It looks once the orphan is gone from /proc (reaped), however long the machine takes.
    const script = '(sleep 0 & echo $! > /tmp/orphan); p=$(cat /tmp/orphan); i=0; while [ -e /proc/$p ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; ps -o stat,comm | grep -c "^Z" || true';
    const r = await run([busybox, '--', 'sh', '-c', script]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('0');
  });

  it('ends what the command left running, and its files go with the run dir', async () => {
    // A sleeper that ignores the polite signals and a loop still creating files in the upper dir
    // when the command exits: both must be gone, and the run dir with every file they made.
    const marker = `sleep ${31000 + (process.pid % 1000)}`;
    const r = await run([busybox, '--', 'sh', '-c', `(trap "" TERM HUP INT; ${marker}) & (while :; do : > /tmp/f$RANDOM; done) & sleep 0.2; echo left`]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('left');
    expect(await runDirsEmpty()).toEqual([]);
    const survivors: string[] = [];
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.replaceAll('\0', ' ').trim() === marker) survivors.push(pid);
    }
    expect(survivors).toEqual([]);
  });

  it('forwards SIGTERM sent to flux to the command', async () => {
    const vol = await mkdtemp(join(tmpdir(), 'flux-sig-'));
    await chmod(vol, 0o777);
    const child = await spawnFlux(['run', '--network', 'none', '-v', `${vol}:/out`, busybox, '--', 'sh', '-c', 'trap "echo got-term > /out/marker; exit 7" TERM; echo ready > /out/ready; while true; do sleep 0.05; done']);
    const code = await new Promise<number>((resolve) => {
      const poll = setInterval(async () => {
        const ready = await readFile(join(vol, 'ready'), 'utf8').catch(() => '');
        if (ready) {
          clearInterval(poll);
          // runuser forwards TERM to flux, which forwards it to the command
          child.kill('SIGTERM');
        }
      }, 50);
      child.on('exit', (c, s) => {
        clearInterval(poll);
        resolve(c ?? 128 + (s === 'SIGTERM' ? 15 : 0));
      });
    });
    expect((await readFile(join(vol, 'marker'), 'utf8')).trim()).toBe('got-term');
    expect(code).toBe(7);
    await rm(vol, { recursive: true, force: true });
  });

  it('forwards a SIGTERM that comes while the container is still being built', async () => {
    // Two hundred read-only volumes keep init mounting for tens of ms after flux has begun to
    // forward signals ("wired"): a SIGTERM then must wait for the command, not be lost.
    const vol = await mkdtemp(join(tmpdir(), 'flux-early-'));
    await chmod(vol, 0o755);
    const volumes = Array.from({ length: 200 }, (_, i) => ['-v', `${vol}:/v${i}:ro`]).flat();
    const child = await spawnFlux(['run', '--network', 'none', ...volumes, busybox, '--', 'sleep', '30'], { FLUX_TIMING: '1' }, ['ignore', 'ignore', 'pipe']);
    let sent = false;
    child.stderr?.on('data', (d: Buffer) => {
      if (!sent && d.toString().includes('flux: timing: wired')) {
        sent = true;
        child.kill('SIGTERM');
      }
    });
    const code = await new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? 128 + (s === 'SIGTERM' ? 15 : 0))));
    expect(sent).toBe(true);
    // A lost SIGTERM would let sleep run its 30 s and exit 0: 143 is the signal reaching it.
    expect(code).toBe(143);
    expect(await runDirsEmpty()).toEqual([]);
    await rm(vol, { recursive: true, force: true });
  }, 40_000);

  it('dies with flux on kill -9, and the next run removes the stale run dir', async () => {
    const marker = `sleep ${31000 + Math.floor(Math.random() * 1000)}`;
    const child = await spawnFlux(['run', '--network', 'none', busybox, '--', 'sh', '-c', `${marker}; true`]);
    const running = async () => {
      const out = await new Promise<string>((resolve) => {
        const ps = spawn('ps', ['-eo', 'args']);
        let s = '';
        ps.stdout.on('data', (d: Buffer) => (s += d.toString()));
        ps.on('close', () => resolve(s));
      });
      return out.split('\n').some((l) => l.trim() === marker);
    };
    // Bounds for a loaded machine: each loop ends as soon as what it waits for is seen.
    for (let i = 0; i < 600 && !(await running()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await running()).toBe(true);
    expect((await runDirsEmpty()).length).toBeGreaterThan(0);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    for (let i = 0; i < 600 && (await running()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await running()).toBe(false);
    const next = await run([busybox, '--', 'true']);
    expect(next.code).toBe(0);
    expect(await runDirsEmpty()).toEqual([]);
  });

  it('keeps a read-only volume read-only and a rw one writable', async () => {
    const vol = await mkdtemp(join(tmpdir(), 'flux-vol-'));
    await chmod(vol, 0o777);
    await writeFile(join(vol, 'host-file'), 'from host\n');
    await chmod(join(vol, 'host-file'), 0o666);
    const ro = await run(['-v', `${vol}:/data:ro`, busybox, '--', 'sh', '-c', 'cat /data/host-file; echo x > /data/new 2>/dev/null && echo WROTE || echo REFUSED']);
    expect(ro.stdout).toBe('from host\nREFUSED\n');
    const rw = await run(['-v', `${vol}:/data`, busybox, '--', 'sh', '-c', 'echo inside > /data/new']);
    expect(rw.code).toBe(0);
    expect(await readFile(join(vol, 'new'), 'utf8')).toBe('inside\n');
    const bad = await run(['-v', '/no/such/dir:/data', busybox, '--', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/^flux: the host path \/no\/such\/dir of -v .* does not exist\./);
    // Two mounts at one path: the second would hide the first.
    for (const flags of [['-v', `${vol}:/data`, '-v', `${vol}:/data/:ro`], ['-v', `${vol}:/data`, '--tmpfs', '/data']]) {
      const twice = await run([...flags, busybox, '--', 'true']);
      expect([twice.code, twice.stderr]).toEqual([125, 'flux: the container path /data is given twice (-v, --mount, --tmpfs or --tz). Mount one volume or tmpfs at each container path.\n']);
    }
    await rm(vol, { recursive: true, force: true });
  });

  it('masks /proc paths and keeps /proc/sys read-only', async () => {
    const r = await run([busybox, '--', 'sh', '-c', 'wc -c < /proc/keys; wc -c < /proc/timer_list; ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo WROTE || echo RO']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').map((s) => s.trim())).toEqual(['0', '0', '0', 'RO']);
    const p = await run(['--privileged', busybox, '--', 'sh', '-c', 'grep -c . /proc/keys >/dev/null && echo VISIBLE || echo EMPTY']);
    expect(p.stdout.trim()).not.toBe('');
  });

  it('has exactly the default capabilities, adjustable with --cap-add/--cap-drop', async () => {
    const r = await run([busybox, '--', 'sh', '-c', 'grep -E "^Cap(Eff|Bnd)" /proc/self/status']);
    const mask = capMask(DEFAULT_CAPS);
    expect(r.stdout).toContain(`CapEff:\t${mask}`);
    expect(r.stdout).toContain(`CapBnd:\t${mask}`);
    const d = await run(['--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN', busybox, '--', 'grep', '^CapEff', '/proc/self/status']);
    expect(d.stdout.trim()).toBe(`CapEff:\t${capMask(['NET_ADMIN'])}`);
    const nnp = await run(['--security-opt', 'no-new-privileges', busybox, '--', 'grep', '^NoNewPrivs', '/proc/self/status']);
    expect(nnp.stdout.trim()).toBe('NoNewPrivs:\t1');
  });

  it('filters syscalls with seccomp unless --privileged or seccomp=unconfined', async () => {
    const on = await run([busybox, '--', 'grep', '^Seccomp:', '/proc/self/status']);
    expect(on.stdout.trim()).toBe('Seccomp:\t2');
    const priv = await run(['--privileged', busybox, '--', 'grep', '^Seccomp:', '/proc/self/status']);
    expect(priv.stdout.trim()).toBe('Seccomp:\t0');
    const off = await run(['--security-opt', 'seccomp=unconfined', busybox, '--', 'grep', '^Seccomp:', '/proc/self/status']);
    expect(off.stdout.trim()).toBe('Seccomp:\t0');
  });

  it('refuses a nested user namespace inside the container unless seccomp=unconfined', async () => {
    const nested = await run([busybox, '--', 'unshare', '-U', 'true']);
    expect(nested.code).not.toBe(0);
    expect(nested.stderr).toContain('Operation not permitted');
    const allowed = await run(['--security-opt', 'seccomp=unconfined', busybox, '--', 'unshare', '-U', 'true']);
    expect(allowed.code).toBe(0);
  });

  it('honours the image Env, WorkingDir and User, and -e/-w/-u over them', async () => {
    const r = await run([alt, '--', 'sh', '-c', 'id -un; id -u; id -g; pwd; echo "$APP_MODE|$GREETING|$HOME"; env | grep -c "^HOSTNAME="']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['app', '1000', '1000', '/srv/app', 'test|hello from distro-alt|/home/app', '1']);
    const o = await run(['-e', 'APP_MODE=prod', '-w', '/tmp', '-u', 'root', alt, '--', 'sh', '-c', 'id -u; pwd; echo $APP_MODE; echo $HOME']);
    expect(o.stdout.trim().split('\n')).toEqual(['0', '/tmp', 'prod', '/root']);
    const bad = await run(['-u', 'nobody-here', alt, '--', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/^flux: cannot run as user "nobody-here": no user named "nobody-here" in the image's \/etc\/passwd\./);
  });

  it('--read-only refuses writes to / while --tmpfs paths stay writable', async () => {
    const r = await run(['--read-only', '--tmpfs', '/scratch', busybox, '--', 'sh', '-c', '(echo x > /file) 2>/dev/null && echo WROTE || echo refused; echo y > /scratch/f && cat /scratch/f']);
    expect(r.stdout.trim().split('\n')).toEqual(['refused', 'y']);
    expect(r.code).toBe(0);
  });

  it('does not pass the host environment', async () => {
    const r = await run([busybox, '--', 'env'], { env: { SECRET_HOST_VAR: 'leak' } });
    expect(r.stdout).not.toContain('SECRET_HOST_VAR');
    expect(r.stdout).toContain('PATH=');
  });

  it('names the rootfs kind with --verbose', async () => {
    const r = await run(['--verbose', busybox, '--', 'true']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/flux: rootfs: (native overlayfs|fuse-overlayfs|copy)/);
  });

  it('gives a terminal with -t and the window size of the host', async () => {
    requireTool('script');
    const bin = await fluxBin();
    const inner = `stty rows 30 cols 100; ${process.execPath} ${bin} run --network none -t ${busybox} -- sh -c 'tty; stty size'`;
    const r = await runAs(await testUser(), 'script', ['-qefc', inner, '/dev/null'], { store });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('/dev/pts/0');
    expect(r.stdout).toMatch(/^30 100\r?$/m);
  });

  it('makes /dev/console the terminal with -t, owned like the terminal by the command\'s user, and has none without -t', async () => {
    requireTool('script');
    const bin = await fluxBin();
    const script = `ls -ln $(tty) /dev/console; echo through-the-console > /dev/console`;
    const inner = `${process.execPath} ${bin} run --network none -t -u 1000:1000 ${busybox} -- sh -c '${script}'`;
    const r = await runAs(await testUser(), 'script', ['-qefc', inner, '/dev/null'], { store });
    expect(r.code).toBe(0);
    const lines = r.stdout.split(/\r?\n/).filter((l) => l.startsWith('c'));
    // Both name the same device (136, 0), and the user owns it.
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).toMatch(/^crw--w----\s+1\s+1000\s+5\s+136,\s+0\s/);
    expect(r.stdout).toContain('through-the-console');
    const plain = await run([busybox, '--', 'sh', '-c', 'test -e /dev/console && echo present || echo absent']);
    expect(plain.stdout).toBe('absent\n');
  });

  it('passes stdin only with -i', async () => {
    const a = await run(['-i', busybox, '--', 'cat'], { input: 'hello\n' });
    expect(a.stdout).toBe('hello\n');
    const b = await run([busybox, '--', 'cat'], { input: 'hello\n' });
    expect(b.stdout).toBe('');
    // A terminal fed from a pipe would never see its end: refused, as docker refuses it.
    const c = await run(['-it', busybox, '--', 'cat'], { input: 'hello\n', timeoutMs: 20_000 });
    expect([c.code, c.stdout, c.timedOut]).toEqual([125, '', false]);
    expect(c.stderr).toBe('flux: the input is not a terminal, and -i -t would give the command a terminal fed from it that never ends. Drop -t to pipe input into the command (flux run -i …), or run from a terminal.\n');
  });

  it('refuses resource limits it cannot enforce in one sentence', async () => {
    const r = await run(['--memory', '64m', busybox, '--', 'true']);
    if (r.code === 0) return; // a delegated cgroup exists here
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^flux: --memory needs a cgroup flux may manage/);
  });
});
