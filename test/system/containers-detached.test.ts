/**
 * Containers that outlive the command, as the unprivileged test user: `flux run -d` under its
 * monitor, `ps` with usage from /proc, `logs`, `stop`, `kill`, `wait`, `rm`, names and ID
 * prefixes, a monitor killed with kill -9, and the same through the library's Container.
 * No timing is asserted: every wait is a poll of the container's state with a deadline.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { constants } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { buildFixtures, userFixtureDir } from '../helpers/fixtures.js';
import { appDir, isRoot, runAs, runFlux, removeStore, tempStore, testUser, userRuntimeDir } from '../helpers/user.js';
import { removeContainers, until, processesWith } from '../helpers/containers.js';
import { requireTool } from '../helpers/require.js';

let store: string;
let runtime: string;
let busybox: string;
let app: string;

const flux = (args: string[]) => runFlux(args, { store, env: { XDG_RUNTIME_DIR: runtime } });
const containers = () => join(runtime, 'flux', 'containers');

/** Polls until `done` holds (or fails the test after the deadline, which only a broken run reaches). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

interface PsRow { id: string; name: string; state: string; exitCode: number | null; pids: number; memoryBytes: number }

async function ps(all = true): Promise<PsRow[]> {
  const r = await flux(['ps', ...(all ? ['-a'] : []), '--format', 'json']);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as PsRow[];
}

async function detach(args: string[], cmd: string[]): Promise<string> {
  const r = await flux(['run', '-d', '--network', 'none', ...args, busybox, '--', ...cmd]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const id = r.stdout.trim();
  expect(id).toMatch(/^[0-9a-f]{64}$/);
  return id;
}

beforeAll(async () => {
  requireTool('newuidmap');
  await buildFixtures(['busybox']);
  store = await tempStore();
  busybox = `oci:${await userFixtureDir('busybox')}`;
  app = await appDir();
  runtime = await userRuntimeDir('flux-lc-runtime-');
  const r = await flux(['pull', '-q', busybox]);
  expect(r.code).toBe(0);
});

afterAll(async () => {
  // Whatever a failed test left running ends with its monitor's state.
  if (runtime) {
    await removeContainers(flux);
    await rm(runtime, { recursive: true, force: true });
  }
  if (store) await removeStore(store);
});

describe('flux run -d and the commands on detached containers', () => {
  it('outlives flux, shows in ps with its processes and memory, and stops with the TERM trap\'s code', async () => {
    const token = String(randomInt(100000, 999999));
    const id = await detach(['--name', `web-${token}`], ['sh', '-c', `trap "echo got term; exit 143" TERM; echo ready; sleep ${token} & wait`]);
    // flux has exited (runFlux returned); the container runs on.
    const row = await until('the container in ps', ps, (rows) => rows.some((r) => r.id === id && r.pids >= 2));
    const mine = row.find((r) => r.id === id)!;
    expect(mine.state).toBe('running');
    expect(mine.name).toBe(`web-${token}`);
    expect(mine.memoryBytes).toBeGreaterThan(0);
    expect(processesWith(token).length).toBe(1);
    const table = await flux(['ps']);
    expect(table.stdout).toMatch(new RegExp(`${id.slice(0, 12)}\\s+web-${token}\\s.*Up `));

    const stop = await flux(['stop', `web-${token}`]);
    expect(stop.code).toBe(0);
    const after = (await ps()).find((r) => r.id === id)!;
    expect(after.state).toBe('exited');
    expect(after.exitCode).toBe(143);
    expect((await flux(['ps', '-a'])).stdout).toMatch(/Exited \(143\)/);
    expect((await flux(['ps', '-q'])).stdout).not.toContain(id.slice(0, 12));
    expect(processesWith(token)).toEqual([]);
    const logs = await flux(['logs', id.slice(0, 10)]);
    expect(logs.stdout).toBe('ready\ngot term\n');
    const wait = await flux(['wait', `web-${token}`]);
    expect(wait.stdout).toBe('143\n');
    const [inspect] = JSON.parse((await flux(['inspect', `web-${token}`])).stdout) as { Id: string; State: { Status: string; ExitCode: number }; LogPath: string; Events: { event: string }[] }[];
    expect(inspect!.Id).toBe(id);
    expect(inspect!.State).toMatchObject({ Status: 'exited', ExitCode: 143 });
    expect(inspect!.LogPath).toBe(join(containers(), id, 'log'));
    expect(inspect!.Events.map((e) => e.event)).toEqual(['created', 'started', 'signalled', 'exited']);
    const events = await flux(['events', '--since', '1h']);
    expect(events.stdout).toMatch(new RegExp(`container signalled ${id} \\(name=web-${token}, signal=SIGTERM, by=\\d+\\)\n`));
    expect(events.stdout).toMatch(new RegExp(`container exited ${id} \\(name=web-${token}, exitCode=143\\)\n`));
  });

  it('kills a command that ignores TERM after -t, every process of it', async () => {
    const token = String(randomInt(100000, 999999));
    const id = await detach([], ['sh', '-c', `trap "" TERM; sleep ${token} & sleep ${token} & wait`]);
    await until('both sleeps', async () => processesWith(token).length, (n) => n === 2);
    const stop = await flux(['stop', '-t', '1', id]);
    expect(stop.code).toBe(0);
    expect((await ps()).find((r) => r.id === id)?.exitCode).toBe(137);
    expect(processesWith(token)).toEqual([]);
  });

  it('kill sends a signal named by its number, and refuses a container that is not running', async () => {
    const name = `sig-${randomInt(100000, 999999)}`;
    await detach(['--name', name], ['sh', '-c', 'trap "echo got usr1; exit 3" USR1; echo ready; sleep 1000 & wait']);
    await until('the trap to be set', async () => (await flux(['logs', name])).stdout, (t) => t.includes('ready'));
    const usr1 = constants.signals.SIGUSR1;
    const sent = await flux(['kill', '-s', String(usr1), name]);
    expect(sent.stderr).toBe('');
    expect(sent.code).toBe(0);
    expect(sent.stdout).toBe(`${name}\n`);
    expect((await flux(['wait', name])).stdout).toBe('3\n');
    expect((await flux(['logs', name])).stdout).toBe('ready\ngot usr1\n');
    const again = await flux(['kill', name]);
    expect(again.code).toBe(125);
    expect(again.stdout).toBe('');
    expect(again.stderr).toBe(`flux: the container ${name} is not running, so it cannot be sent SIGKILL. See how it ended with flux ps -a, and remove it with flux rm ${name}.\n`);
    // A signal that names none is refused once, before any container.
    const bad = await flux(['kill', '-s', '99', name, name]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toBe('flux: kill -s 99 is not a signal. Give a name such as SIGTERM, TERM or SIGINT, or a number.\n');
    await flux(['rm', name]);
  });

  it('stop sends --stop-signal, as docker and podman stop do', async () => {
    const name = `stopsig-${randomInt(100000, 999999)}`;
    await detach(['--name', name, '--stop-signal', 'SIGUSR1'], ['sh', '-c', 'trap "echo got usr1; exit 3" USR1; trap "echo got term; exit 4" TERM; echo ready; sleep 1000 & wait']);
    await until('the traps to be set', async () => (await flux(['logs', name])).stdout, (t) => t.includes('ready'));
    const stop = await flux(['stop', name]);
    expect([stop.code, stop.stdout, stop.stderr]).toEqual([0, `${name}\n`, '']);
    expect((await flux(['wait', name])).stdout).toBe('3\n');
    expect((await flux(['logs', name])).stdout).toBe('ready\ngot usr1\n');
    await flux(['rm', name]);
  });

  it('keeps stdout and stderr apart in the log, with times, and honours --tail', async () => {
    const id = await detach([], ['sh', '-c', 'echo out1; echo err1 >&2; echo out2; printf partial']);
    const wait = await flux(['wait', id]);
    expect(wait.stdout).toBe('0\n');
    const logs = await flux(['logs', id]);
    expect(logs.stdout).toBe('out1\nout2\npartial\n');
    expect(logs.stderr).toBe('err1\n');
    const stamped = await flux(['logs', '-t', '--tail', '1', id]);
    expect(stamped.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z partial\n$/);
    expect(stamped.stderr).toBe('');
    expect((await flux(['logs', '--since', '1h', id])).stdout).toBe('out1\nout2\npartial\n');
    const later = new Date(Date.now() + 3_600_000).toISOString();
    expect((await flux(['logs', '--since', later, id])).stdout).toBe('');
  });

  it('logs any bytes as Node reads them, and a stdout line before a stderr line written after it', async () => {
    const id = await detach([], ['sh', '-c', `printf 'tab\\there "q" back\\\\slash\\001\\n\\377bad\\n'; echo first; echo second >&2`]);
    expect((await flux(['wait', id])).stdout).toBe('0\n');
    const lines = readFileSync(join(containers(), id, 'log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { s: string; l: string });
    expect(lines.map((l) => [l.s, l.l])).toEqual([
      ['stdout', 'tab\there "q" back\\slash\u0001'],
      ['stdout', '\uFFFDbad'],
      ['stdout', 'first'],
      ['stderr', 'second'],
    ]);
  });

  it('caps the log at --log-max-size, keeping the newest lines in order', async () => {
    const id = await detach(['--log-max-size', '8k'], ['sh', '-c', 'i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done']);
    expect((await flux(['wait', id])).stdout).toBe('0\n');
    const files = readdirSync(join(containers(), id)).filter((f) => f.startsWith('log'));
    expect(files.sort()).toEqual(['log', 'log.1']);
    const bytes = files.reduce((n, f) => n + statSync(join(containers(), id, f)).size, 0);
    expect(bytes).toBeLessThanOrEqual(2 * 8192);
    const lines = (await flux(['logs', id])).stdout.trim().split('\n');
    expect(lines.at(-1)).toBe('line1999');
    const first = Number(lines[0]!.slice(4));
    expect(first).toBeGreaterThan(0);
    expect(lines).toEqual(Array.from({ length: 2000 - first }, (_, k) => `line${first + k}`));
    const bad = await flux(['run', '-d', '--log-max-size', '1', busybox, '--', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toBe('flux: the log size 1 is not a size of 4k or more. Write it as 10m, 512k or 1g.\n');
    await flux(['rm', id]);
  });

  it('follows the log until the container ends', async () => {
    const id = await detach([], ['sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.2; done']);
    const r = await flux(['logs', '-f', id]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('line1\nline2\nline3\n');
  });

  it('follows a --rm container to its last line, written just before its state goes', async () => {
    const id = await detach(['--rm'], ['sh', '-c', 'echo first; sleep 1; echo final; echo final-err >&2']);
    const r = await flux(['logs', '-f', id]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('first\nfinal\n');
    expect(r.stderr).toBe('final-err\n');
  });

  it('follows the log across its rotations without losing a line', async () => {
    // Each batch of 50 lines (about 4.6k of log) rotates a 4k log once or twice; the next batch
    // waits until the follower has shown this one's last line, so no part is dropped from disk
    // before the follower could read it.
    const user = await testUser();
    const sync = await mkdtemp('/tmp/flux-lc-sync-');
    if (isRoot) await chown(sync, user.uid, user.gid);
    const script = 'i=0; for b in 1 2 3 4 5 6; do for k in $(seq 50); do i=$((i+1)); echo "line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; done; echo "batch $b" >&2; while [ ! -e /sync/$b ]; do sleep 0.05; done; done';
    const id = await detach(['--log-max-size', '4k', '-v', `${sync}:/sync`], ['sh', '-c', script]);
    const r = await runFlux(['logs', '-f', id], {
      store,
      env: { XDG_RUNTIME_DIR: runtime },
      onStderr: (err) => {
        for (const m of err.matchAll(/batch (\d)/g)) if (!existsSync(join(sync, m[1]!))) writeFileSync(join(sync, m[1]!), '');
      },
    });
    await rm(sync, { recursive: true, force: true });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('batch 1\nbatch 2\nbatch 3\nbatch 4\nbatch 5\nbatch 6\n');
    const numbers = r.stdout.trim().split('\n').map((l) => Number(l.split(' ')[1]));
    expect(numbers).toEqual(Array.from({ length: 300 }, (_, k) => k + 1));
    expect(readdirSync(join(containers(), id)).filter((f) => f.startsWith('log')).sort()).toEqual(['log', 'log.1']);
    await flux(['rm', id]);
  });

  it('refuses a name in use with the ID that has it, and rm frees name and state', async () => {
    const name = `dup-${randomInt(100000, 999999)}`;
    const id = await detach(['--name', name], ['sleep', '1000']);
    const again = await flux(['run', '-d', '--network', 'none', '--name', name, busybox, '--', 'true']);
    expect(again.code).toBe(125);
    expect(again.stdout).toBe('');
    expect(again.stderr).toContain(id);
    const refused = await flux(['rm', name]);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toMatch(/is running\. Stop it first/);
    const removed = await flux(['rm', '-f', name]);
    expect(removed.code).toBe(0);
    expect(existsSync(join(containers(), id))).toBe(false);
    expect((await ps()).map((r) => r.id)).not.toContain(id);
    const missing = await flux(['logs', name]);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/^flux: no container is named/);
    // The name is free again.
    const reused = await detach(['--name', name, '--rm'], ['true']);
    expect(reused).not.toBe(id);
  });

  it('container prune removes the containers that ended and keeps those that run', async () => {
    const ended = await detach([], ['true']);
    const running = await detach([], ['sleep', '1000']);
    await flux(['wait', ended]);
    const r = await flux(['container', 'prune']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toContain(ended);
    const left = (await ps()).map((x) => x.id);
    expect(left).toContain(running);
    expect(left).not.toContain(ended);
    await flux(['rm', '-f', running]);
  });

  it('returns only once the command runs: a command that cannot start is flux\'s error, and leaves nothing', async () => {
    const before = (await ps()).length;
    const missing = await flux(['run', '-d', '--network', 'none', busybox, '--', 'no-such-command']);
    expect(missing.code).toBe(127);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toBe('flux: no-such-command: executable file not found in $PATH. Check the command name, or the image\'s PATH.\n');
    const workdir = await flux(['run', '-d', '--network', 'none', '-w', '/etc/passwd', busybox, '--', 'true']);
    expect(workdir.code).toBe(125);
    expect(workdir.stderr).toMatch(/^flux: the working directory \/etc\/passwd is not a directory\./);
    expect((await ps()).length).toBe(before);
  });

  it('removes a --rm container when it ends', async () => {
    const id = await detach(['--rm'], ['sh', '-c', 'echo bye']);
    await until('its removal', () => ps(), (rows) => !rows.some((r) => r.id === id));
    expect(existsSync(join(containers(), id))).toBe(false);
  });

  it('shows a container whose monitor was killed with kill -9 as exited with an unknown code, and leaves no process', async () => {
    const token = String(randomInt(100000, 999999));
    const id = await detach([], ['sleep', token]);
    const state = JSON.parse(readFileSync(join(containers(), id, 'state.json'), 'utf8')) as { monitorPid: number };
    process.kill(state.monitorPid, 'SIGKILL');
    const rows = await until('the exit', () => ps(), (r) => r.find((x) => x.id === id)?.state === 'exited');
    expect(rows.find((r) => r.id === id)!.exitCode).toBeNull();
    expect((await flux(['ps', '-a'])).stdout).toMatch(/Exited \(unknown\)/);
    await until('the container\'s processes to end', async () => processesWith(token).length, (n) => n === 0);
    // Its helper died with the monitor, before it could clean up: the run directory is still there.
    expect(readdirSync(join(store, 'runs')).length).toBeGreaterThan(0);
    expect((await flux(['rm', id])).code).toBe(0);
    expect(readdirSync(join(store, 'runs'))).toEqual([]);
  });

  it('exec joins the running container: its processes, files and host name, its capabilities and filter, its exit code', async () => {
    const token = String(randomInt(100000, 999999));
    const id = await detach(['--hostname', `box${token}`, '-e', 'FROM_RUN=1'], ['sh', '-c', `echo made > /tmp/mark; grep -E "^(CapEff|Seccomp|NoNewPrivs):" /proc/self/status; sleep ${token}`]);
    await until('the command to write its status', async () => (await flux(['logs', id])).stdout, (t) => t.includes('Seccomp'));
    const own = (await flux(['logs', id])).stdout;
    const r = await flux(['exec', '-e', 'EXTRA=2', id, 'sh', '-c', 'hostname; cat /tmp/mark; ps -o args | grep -c "^sleep"; echo $FROM_RUN$EXTRA; grep -E "^(CapEff|Seccomp|NoNewPrivs):" /proc/self/status; exit 7']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(7);
    const [host, mark, sleeps, env, ...status] = r.stdout.trim().split('\n');
    expect(host).toBe(`box${token}`);
    expect(mark).toBe('made');
    expect(sleeps).toBe('1');
    expect(env).toBe('12');
    expect(status.join('\n')).toBe(own.trim());
    expect(status.join('\n')).toMatch(/Seccomp:\s+2/);
    // Only 0-2 cross into the command (the 3 is ls's own directory).
    const fds = await flux(['exec', id, 'ls', '/proc/self/fd']);
    expect(fds.stdout.trim().split(/\s+/)).toEqual(['0', '1', '2', '3']);
    const as = await flux(['exec', '-u', '1000', '-w', '/tmp', id, 'sh', '-c', 'id -u; pwd']);
    expect(as.stdout).toBe('1000\n/tmp\n');
    const tty = await runFlux(['exec', '-it', id, 'sh', '-c', '[ -t 0 ] && [ -t 1 ] && tty; exit 3'], { store, env: { XDG_RUNTIME_DIR: runtime }, tty: true });
    expect(tty.code).toBe(3);
    expect(tty.stdout).toMatch(/\/dev\/pts\/\d+/);
    // A terminal fed from a pipe never sees its end: refused, as for run.
    const piped = await runFlux(['exec', '-it', id, 'cat'], { store, env: { XDG_RUNTIME_DIR: runtime }, input: 'hello\n', timeoutMs: 20_000 });
    expect([piped.code, piped.stdout, piped.timedOut]).toEqual([125, '', false]);
    expect(piped.stderr).toMatch(/^flux: the input is not a terminal, and -i -t would give the command a terminal fed from it that never ends\./);
    const missing = await flux(['exec', id, 'no-such-command']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/^flux: no-such-command: executable file not found/);
    await flux(['rm', '-f', id]);
    const gone = await flux(['exec', id, 'true']);
    expect(gone.code).toBe(125);
    expect(gone.stderr).toMatch(/^flux: no container is named/);
  });

  it('logs and exec whose stdout is closed early (| head -1) end quietly with 141, as a foreground run does', async () => {
    // More output than a pipe holds: head has gone by the time flux writes the rest.
    const id = await detach([], ['sh', '-c', 'seq 1 100000; sleep 1000']);
    await until('the output in the log', async () => (await flux(['logs', '--tail', '1', id])).stdout, (t) => t === '100000\n');
    const user = await testUser();
    const head = (args: string[]) =>
      runAs(user, 'bash', ['-c', '"$@" | head -1; echo "status ${PIPESTATUS[0]}"', 'bash', process.execPath, join(app, 'bin/flux.js'), ...args], { store, env: { XDG_RUNTIME_DIR: runtime } });
    for (const args of [['logs', id], ['logs', '-f', id], ['exec', id, 'seq', '1', '100000']]) {
      const r = await head(args);
      expect({ args, stderr: r.stderr }).toEqual({ args, stderr: '' });
      expect(r.stdout).toBe('1\nstatus 141\n');
    }
    await flux(['rm', '-f', id]);
  });

  it('exec -u USER gets that user\'s HOME and exec -t a TERM, as run -u and run -t do', async () => {
    const id = await detach([], ['sleep', '1000']);
    const home = await flux(['exec', id, 'sh', '-c', 'echo $HOME']);
    expect(home.stdout).toBe('/root\n');
    expect((await flux(['exec', '-u', 'nobody', id, 'sh', '-c', 'echo $HOME']).then((r) => r.stdout))).toBe('/nonexistent\n');
    // A uid without a passwd entry has / (as with run -u 1234); -e still wins.
    expect((await flux(['exec', '-u', '1234', id, 'sh', '-c', 'echo $HOME']).then((r) => r.stdout))).toBe('/\n');
    expect((await flux(['exec', '-u', 'nobody', '-e', 'HOME=/mine', id, 'sh', '-c', 'echo $HOME']).then((r) => r.stdout))).toBe('/mine\n');
    const term = await runFlux(['exec', '-t', id, 'sh', '-c', 'echo TERM=$TERM'], { store, env: { XDG_RUNTIME_DIR: runtime, TERM: 'screen' } });
    expect(term.code).toBe(0);
    expect(term.stdout).toMatch(/^TERM=screen\r?\n$/);
    const plain = await runFlux(['exec', id, 'sh', '-c', 'echo TERM=$TERM'], { store, env: { XDG_RUNTIME_DIR: runtime, TERM: 'screen' } });
    expect(plain.stdout).toBe('TERM=\n');
    await flux(['rm', '-f', id]);
    // A HOME the run set (-e, or the image's Env) is the container's choice: an exec as another user keeps it.
    const set = await detach(['-e', 'HOME=/srv'], ['sleep', '1000']);
    expect((await flux(['exec', '-u', 'nobody', set, 'sh', '-c', 'echo $HOME']).then((r) => r.stdout))).toBe('/srv\n');
    await flux(['rm', '-f', set]);
  });

  it('exec -w refuses a directory the container lacks, or a relative one, and makes none; run -w still makes it', async () => {
    const id = await detach(['-w', '/made/by/run'], ['sh', '-c', 'pwd; sleep 1000']);
    await until('the command to start', async () => (await flux(['logs', id])).stdout, (t) => t === '/made/by/run\n');
    const missing = await flux(['exec', '-w', '/nonexist', id, 'pwd']);
    expect(missing.code).toBe(125);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toBe('flux: the working directory /nonexist does not exist in the container. Give -w a directory that exists there, or make it first (mkdir -p).\n');
    const relative = await flux(['exec', '-w', 'relative', id, 'pwd']);
    expect(relative.code).toBe(125);
    expect(relative.stderr).toBe('flux: the working directory "relative" is not absolute. Give -w an absolute path inside the container.\n');
    const look = await flux(['exec', id, 'sh', '-c', 'ls -d /nonexist /relative 2>/dev/null; pwd']);
    expect(look.stdout).toBe('/made/by/run\n');
    expect((await flux(['exec', '-w', '/made', id, 'pwd'])).stdout).toBe('/made\n');
    await flux(['rm', '-f', id]);
  });

  it('serves through -p while detached, and shares its network with --network container:NAME', async () => {
    requireTool('slirp4netns');
    const port = await freePort();
    const name = `web-${randomInt(100000, 999999)}`;
    const id = await flux(['run', '-d', '--name', name, '-p', `127.0.0.1:${port}:80`, busybox, '--', 'sh', '-c', 'mkdir -p /www; echo served > /www/index.html; exec httpd -f -p 80 -h /www']);
    expect(id.stderr).toBe('');
    expect(id.code).toBe(0);
    // flux has exited: the monitor holds slirp4netns and the forward.
    const body = await until('the page through -p', () => fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(3000) }).then((r) => r.text(), () => ''), (t) => t === 'served\n');
    expect(body).toBe('served\n');
    const stats = await flux(['stats', '--no-stream', '--format', 'json', name]);
    expect(stats.stderr).toBe('');
    const [usage] = JSON.parse(stats.stdout) as { name: string; pids: number; memoryBytes: number; netRxBytes: number; netTxBytes: number }[];
    expect(usage!.name).toBe(name);
    expect(usage!.pids).toBeGreaterThan(0);
    expect(usage!.memoryBytes).toBeGreaterThan(0);
    // The page went out, its request came in: both through the container's tap device.
    expect(usage!.netRxBytes).toBeGreaterThan(0);
    expect(usage!.netTxBytes).toBeGreaterThan('served\n'.length);
    const joined = await flux(['run', '--network', `container:${name}`, busybox, '--', 'sh', '-c', 'wget -qO- http://127.0.0.1:80/; ip -o link | grep -c tap0']);
    expect(joined.stderr).toBe('');
    expect(joined.code).toBe(0);
    expect(joined.stdout).toBe('served\n1\n');
    expect((await flux(['stop', name])).code).toBe(0);
    const refused = await flux(['run', '--network', `container:${name}`, busybox, '--', 'true']);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toMatch(/^flux: the container web-\d+ is not running, so its network cannot be shared\./);
    await flux(['rm', name]);
  });

  it('rm -f of a running container with a published port leaves nothing of it in the runtime directory', async () => {
    requireTool('slirp4netns');
    const sockets = () => (existsSync(join(runtime, 'flux')) ? readdirSync(join(runtime, 'flux')) : []).filter((f) => f.startsWith('slirp4netns-'));
    const before = sockets();
    const started = await flux(['run', '-d', '-p', '127.0.0.1::80', busybox, '--', 'sleep', '1000']);
    expect(started.code).toBe(0);
    const own = sockets().filter((f) => !before.includes(f));
    expect(own).toHaveLength(1);
    const removed = await flux(['rm', '-f', started.stdout.trim()]);
    expect(removed.code).toBe(0);
    expect(sockets()).not.toContain(own[0]);
  });

  it('gives the library a Container with status, logs of both streams in order, stop and remove', async () => {
    const dir = await appDir();
    const user = await testUser();
    // The command writes each line only once the one before is in the log (the test says so
    // through a file in a shared directory): the order between the two streams is then known.
    const sync = await mkdtemp('/tmp/flux-lc-sync-');
    if (isRoot) await chown(sync, user.uid, user.gid);
    const step = (n: number) => `while [ ! -e /sync/${n} ]; do sleep 0.05; done`;
    const script = `
      import { Flux } from '${join(dir, 'dist/src/index.js')}';
      import { writeFileSync } from 'node:fs';
      const flux = new Flux({ store: ${JSON.stringify(store)}, runtimeDir: ${JSON.stringify(join(runtime, 'flux'))} });
      const c = await flux.run({ image: ${JSON.stringify(busybox)}, network: 'none', detach: true, name: 'lib-one', volumes: ['${sync}:/sync'],
        command: ['sh', '-c', 'echo a; ${step(1)}; echo b >&2; ${step(2)}; echo c; trap "exit 7" TERM; sleep 1000 & wait'] });
      console.log(JSON.stringify({ id: c.id, name: c.name, state: c.status().state }));
      const lines = [];
      for await (const l of c.logs({ follow: true })) {
        lines.push(l.stream + ':' + l.line);
        if (lines.length < 3) writeFileSync('${sync}/' + lines.length, '');
        else break;
      }
      console.log(lines.join(','));
      console.log((await flux.containers()).map((x) => x.name).join(','));
      const ex = await c.exec(['sh', '-c', 'echo in; exit 4'], { stdout: 'pipe' });
      console.log(ex.exitCode, ex.stdout.toString().trim());
      const stats = await c.stats();
      console.log(stats.pids > 0 && stats.memoryBytes > 0);
      console.log(await c.stop({ timeout: 5 }), c.status().state, await c.wait());
      await c.remove();
      console.log((await flux.containers({ all: true })).some((x) => x.id === c.id));
      console.log((await flux.events()).filter((e) => e.id === c.id).map((e) => e.event + (e.signal ? ':' + e.signal : '') + (e.event === 'exited' ? ':' + e.exitCode : '')).join(','));
    `;
    const r = await runAs(user, process.execPath, ['--input-type=module', '-e', script]);
    await rm(sync, { recursive: true, force: true });
    expect(r.stderr).toBe('');
    const [head = '', lines, names, exec, usage, stopped, left, events] = r.stdout.trim().split('\n');
    expect(events).toBe('created,started,signalled:SIGTERM,exited:7,removed');
    expect(exec).toBe('4 in');
    const h = JSON.parse(head) as { id: string; name: string; state: string };
    expect(h.id).toMatch(/^[0-9a-f]{64}$/);
    expect(h.name).toBe('lib-one');
    expect(h.state).toBe('running');
    expect(lines).toBe('stdout:a,stderr:b,stdout:c');
    expect(names?.split(',')).toContain('lib-one');
    expect(usage).toBe('true');
    expect(stopped).toBe('7 exited 7');
    expect(left).toBe('false');
  });
});
