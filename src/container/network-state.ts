/**
 * A user network's state: `$XDG_RUNTIME_DIR/flux/networks/NAME/` holding network.json (subnet,
 * holder pid and start time), members.json (each container's address, aliases and the process
 * holding its network namespace) and hosts (every member's name, kept current and mounted into
 * each member as /etc/hosts). Changes happen under a lock directory, so two runs never take one
 * address.
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, openSync, ftruncateSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { runtimeDir } from '../runtime-dir.js';
import { FluxError } from '../errors.js';
import { pidAlive, startTime } from './network-proc.js';
import { forwardLines, watchLine } from './network-watch.js';

/** This flux process (a container's monitor, for a detached one): the owner of the members it adds. */
export const self = (): { pid: number; start: number } => ({ pid: process.pid, start: startTime(process.pid) });

export interface NetworkRecord {
  name: string;
  subnet: string;
  gateway: string;
  internal: boolean;
  created: string;
  holder: { pid: number; start: number };
  /** slirp4netns, for outbound traffic (none on an --internal network). */
  outbound?: { pid: number; start: number };
}

export interface Member { container: string; address: string; aliases: string[]; netPid: number; netStart: number; owner: { pid: number; start: number }; forwards?: { id: number; rule: string; port?: string }[] }

export const networksRoot = (chosen?: string): string => {
  const root = join(runtimeDir(chosen), 'networks');
  mkdirSync(root, { recursive: true, mode: 0o700 });
  return root;
};
export const networkDir = (root: string, name: string): string => join(root, name);

export function checkName(name: string): void {
  if (['slirp4netns', 'pasta', 'none', 'host', 'default', 'bridge'].includes(name)) {
    throw new FluxError('BAD_NAME', `${name} is a network mode of flux run, so it cannot name a network.`, { hint: 'Choose another name.', exitCode: 125 });
  }
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/.test(name)) {
    throw new FluxError('BAD_NAME', `${JSON.stringify(name)} is not a valid network name.`, { hint: 'Use letters, digits, _, . and - (starting with a letter or digit).', exitCode: 125 });
  }
}

function writeAtomic(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

export function readRecord(dir: string): NetworkRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'network.json'), 'utf8')) as NetworkRecord;
  } catch {
    return undefined;
  }
}
export const writeRecord = (dir: string, r: NetworkRecord): void => writeAtomic(join(dir, 'network.json'), JSON.stringify(r));

/** A member's run goes on: the flux process that runs the container (its monitor, when detached) and the holder of its network namespace both live. */
export const memberLive = (m: Member): boolean => pidAlive(m.owner.pid, m.owner.start) && pidAlive(m.netPid, m.netStart);

/** Every member members.json lists, also those whose run was killed and that nothing dropped yet. */
export function readAllMembers(dir: string): Member[] {
  try {
    return JSON.parse(readFileSync(join(dir, 'members.json'), 'utf8')) as Member[];
  } catch {
    return [];
  }
}

/**
 * Members whose run goes on. One left by a run that was killed (kill -9 of its monitor) is left
 * out here; dropping it (its forwards and namespace holder) is done under the network's lock
 * (liveMembers in user-networks.ts) or by the holder's loop (network-watch.ts).
 */
export const readMembers = (dir: string): Member[] => readAllMembers(dir).filter(memberLive);

/** The file listing a member's forwards for the holder's loop (see WATCH_SCRIPT). */
export const forwardsFile = (dir: string, netPid: number): string => join(dir, `forwards.${netPid}`);

/**
 * members.json, members.tsv and forwards.NETPID (what the holder's loop watches) and the hosts
 * file; hosts is rewritten in place, as members have it bind-mounted. A member's forwards file
 * is removed by whoever removes its forwards (dropForwards, or the holder's loop).
 */
export function writeMembers(dir: string, members: Member[]): void {
  for (const m of members) if (m.forwards?.length) writeAtomic(forwardsFile(dir, m.netPid), forwardLines(m.forwards));
  writeAtomic(join(dir, 'members.json'), JSON.stringify(members));
  writeAtomic(join(dir, 'members.tsv'), members.map(watchLine).join(''));
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', ...members.map((m) => `${m.address}\t${[m.container, ...m.aliases].join(' ')}`)];
  const fd = openSync(join(dir, 'hosts'), 'w', 0o644);
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, `${lines.join('\n')}\n`);
  } finally {
    closeSync(fd);
  }
}

export function listNetworkDirs(root: string): string[] {
  return readdirSync(root).filter((n) => !n.startsWith('.')).map((n) => join(root, n)).filter((d) => readRecord(d) !== undefined);
}

/** Runs `fn` holding the network's lock (a directory: mkdir is atomic); a lock older than 30 s is stale. */
export async function withLock<T>(dir: string, fn: () => Promise<T> | T): Promise<T> {
  const lock = join(dir, '.lock');
  for (let i = 0; ; i++) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      try {
        if (Date.now() - statSync(lock).mtimeMs > 30_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        /* released meanwhile */
      }
      if (i > 600) throw new FluxError('NETWORK_LOCKED', `the network state in ${dir} stays locked.`, { hint: `Remove ${lock} if no flux command is running.` });
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
