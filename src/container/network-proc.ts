/**
 * The processes that hold a user network's namespaces: the holder (a shell loop, network-watch.ts,
 * in a user and network namespace of its own, made by the helper with the user's full id maps,
 * the bridge in it) and, per member, a `sleep` in a new network namespace inside the holder's user namespace,
 * joined by the container's helper as `--network container:` joins. Commands run in them with
 * nsenter: as the owner of the holder's user namespace the user has every capability there.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { FluxError } from '../errors.js';
import { isAlive } from '../pid-alive.js';
import { isRealRoot, spawnInUserNamespace } from '../userns/userns.js';
import { WATCH_SCRIPT } from './network-watch.js';

/** A process's start time (clock ticks since boot), so a reused pid is told apart. */
export function startTime(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()!.split(' ');
    // A zombie (killed, not yet reaped by its new parent) holds no namespace any more.
    return fields[0] === 'Z' ? -1 : Number(fields[19]);
  } catch {
    return -1;
  }
}
export const pidAlive = (pid: number, start: number): boolean => pid > 0 && isAlive(pid) && startTime(pid) === start;

// ip and iptables live in sbin, which a user's PATH often lacks.
const SBIN_PATH = `${process.env.PATH ?? '/usr/bin:/bin'}:/usr/sbin:/sbin`;

function run(argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { ...process.env, PATH: SBIN_PATH } }, (err, out, stderr) => {
      if (err) reject(new FluxError('NETWORK_SETUP', `${argv.includes('sh') ? 'setting up the network' : argv.join(' ')} failed: ${String(stderr || err.message).trim().split('\n').pop()}.`, { hint: 'Check that ip (iproute2), iptables and nsenter (util-linux) are installed.' }));
      else resolve(out);
    });
  });
}

/** A shell script run as root in the holder's user and network namespaces. */
export const inHolder = (holder: number, script: string): Promise<string> =>
  // Real root runs without a user namespace (as its containers do): there is none to join.
  run(['nsenter', '-t', String(holder), ...(isRealRoot() ? [] : ['-U', '--preserve-credentials']), '-n', 'sh', '-c', script]);

// The holder, the loop that drops members that ended without leaving ($1 the script, $2 the
// network's directory, $3 node, which removes a dropped member's forwards). setsid and & leave
// it orphaned, in a session of its own: it outlives flux, and the helper's parent-death signal
// (armed before the exec) reaches only the shell that started it.
const WATCHER = 'setsid unshare -n sh -c "$1" flux-network "$2" "$3" </dev/null >/dev/null 2>&1 & echo $!';

async function waitNetns(pid: number, not: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const { readlinkSync } = await import('node:fs');
      if (readlinkSync(`/proc/${pid}/ns/net`) !== not) return;
    } catch {
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new FluxError('NETWORK_SETUP', 'the process holding a network namespace did not start.', { hint: 'Check that unshare (util-linux) is installed.' });
}

/** Starts the holder of the network in `dir` with its bridge at `gateway/bits`; returns its pid and start time. */
export async function startHolder(dir: string, gateway: string, bits: number): Promise<{ pid: number; start: number }> {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawnInUserNamespace(['sh', '-c', WATCHER, 'sh', WATCH_SCRIPT, dir, process.execPath], { stdio: ['ignore', 'pipe', 'pipe'], quiet: true });
    let text = '';
    let failure: unknown;
    child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
    child.on('error', (e) => (failure ??= e));
    child.on('close', (code) => (failure || code !== 0 ? reject(failure ?? new FluxError('NETWORK_SETUP', 'the network\'s holder could not be started.')) : resolve(text)));
  });
  const pid = Number(out.trim());
  const { readlinkSync } = await import('node:fs');
  await waitNetns(pid, readlinkSync('/proc/self/ns/net'));
  await inHolder(pid, `ip link set lo up && ip link add fluxbr0 type bridge && ip addr add ${gateway}/${bits} dev fluxbr0 && ip link set fluxbr0 up`);
  return { pid, start: startTime(pid) };
}

/**
 * Outbound traffic: one slirp4netns for the whole network (its tap0 the holder's default route),
 * members' packets masqueraded behind its address. It runs in a session of its own, so it
 * outlives flux; `network rm` ends it. Host loopback stays out of reach, as on the default network.
 */
export async function startOutbound(holder: number, subnet: string, apiSocket: string): Promise<{ pid: number; start: number }> {
  const child = spawn('slirp4netns', ['--configure', '--mtu=65520', '--disable-host-loopback', `--api-socket=${apiSocket}`, String(holder), 'tap0'], { detached: true, stdio: 'ignore' });
  const failed = new Promise<never>((_, reject) => child.on('error', () => reject(new FluxError('NO_SLIRP4NETNS', 'slirp4netns is not installed, so the network can have no outbound traffic.', { hint: 'Install it (sudo apt-get install slirp4netns), or create the network with --internal.', exitCode: 125 }))));
  child.unref();
  const pid = child.pid ?? -1;
  const configured = (async () => {
    for (let i = 0; i < 500; i++) {
      if ((await inHolder(holder, 'ip route show default')).includes('tap0')) return;
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new FluxError('NETWORK_SETUP', 'slirp4netns did not configure the network\'s outbound interface.', { hint: 'Check that /dev/net/tun is usable (flux info).' });
  })();
  try {
    await Promise.race([configured, failed]);
    await inHolder(holder, `echo 1 > /proc/sys/net/ipv4/ip_forward && iptables -t nat -A POSTROUTING -s ${subnet} -o tap0 -j MASQUERADE`);
  } catch (err) {
    if (pid > 0) process.kill(pid, 'SIGKILL');
    throw err;
  }
  return { pid, start: startTime(pid) };
}

/**
 * A member's network namespace: a sleeper in the holder's user namespace with its end of a veth
 * pair (eth0) at `address`, the other end on the bridge. The pair goes when the namespace does.
 * The sleeper wires itself before it becomes `sleep` (one nsenter, no polling for the namespace
 * to appear), and says its pid when done: a run on a network waits for this before its sandbox
 * starts. Spawned detached, in a session of its own, it outlives flux as the holder does.
 */
export function startMember(holder: number, address: string, bits: number, gateway: string): Promise<{ pid: number; start: number }> {
  const script = [
    'v=fv$$',
    `printf 'link add eth0 type veth peer name %s netns ${holder}\n' $v | ip -b - &&`,
    `nsenter -t ${holder} -n ip link set $v master fluxbr0 up &&`,
    `printf 'link set lo up\naddr add ${address}/${bits} dev eth0\nlink set eth0 up\nroute add default via ${gateway}\n' | ip -b - &&`,
    'echo $$ && exec sleep infinity >/dev/null 2>&1',
  ].join('\n');
  const argv = [...(isRealRoot() ? [] : ['nsenter', '-t', String(holder), '-U', '--preserve-credentials', '--']), 'unshare', '-n', 'sh', '-c', script];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: SBIN_PATH } });
    let out = '';
    let err = '';
    const fail = (why: string) => reject(new FluxError('NETWORK_SETUP', `setting up the network failed: ${why}.`, { hint: 'Check that ip (iproute2) and nsenter and unshare (util-linux) are installed.' }));
    child.on('error', (e) => fail(e.message));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('\n')) return;
      const pid = Number(out.trim());
      child.stdout!.destroy();
      child.stderr!.destroy();
      child.unref();
      resolve({ pid, start: startTime(pid) });
    });
    child.on('exit', (code) => {
      if (!out.includes('\n')) fail(err.trim().split('\n').pop() || `exit ${code}`);
    });
  });
}

export function stopProcess(pid: number, start: number): void {
  if (pidAlive(pid, start)) process.kill(pid, 'SIGKILL');
}
