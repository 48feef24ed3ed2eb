/**
 * A user network's state: `$XDG_RUNTIME_DIR/flux/networks/NAME/` holding network.json (subnet,
 * holder pid and start time), members.json (each container's address, names and the process
 * holding its network namespace), hosts (every member's names) and hosts.d/ (per member, keyed
 * by its namespace holder's pid: PID.own, its own lines, and PID, the network's names with its
 * own lines, kept current and mounted into the member as /etc/hosts). Changes happen under a
 * lock directory, so two runs never take one address.
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

export interface Member {
  container: string;
  address: string;
  aliases: string[];
  /** The container's short ID (12 hex digits), a name of it on the network as in docker and podman. */
  id?: string;
  /**
   * Lines of this member's /etc/hosts only (--add-host, host.containers.internal, its own host
   * name), written before the network's names, so they win, as docker's /etc/hosts wins over its
   * DNS server.
   */
  own?: string[];
  netPid: number;
  netStart: number;
  owner: { pid: number; start: number };
  forwards?: { id: number; rule: string; port?: string }[];
}

/** Every name a member answers to on the network: its container name, aliases and short ID. */
export const memberNames = (m: Pick<Member, 'container' | 'aliases' | 'id'>): string[] => [...new Set([m.container, ...m.aliases, ...(m.id ? [m.id] : [])])];

/** The directory of the members' own hosts files, and a member's file (mounted as its /etc/hosts). */
export const ownHostsDir = (dir: string): string => join(dir, 'hosts.d');
export const memberHostsFile = (dir: string, netPid: number): string => join(ownHostsDir(dir), String(netPid));

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
 * out here; dropping it (its forwards, hosts files and namespace holder) is done under the
 * network's lock (liveMembers in user-networks.ts) or by the holder's loop (network-watch.ts).
 */
export const readMembers = (dir: string): Member[] => readAllMembers(dir).filter(memberLive);

/** The file listing a member's forwards for the holder's loop (see WATCH_SCRIPT). */
export const forwardsFile = (dir: string, netPid: number): string => join(dir, `forwards.${netPid}`);

/** A file a member has bind-mounted: rewritten in place (the same inode), never replaced. */
function writeInPlace(file: string, text: string): void {
  const fd = openSync(file, 'w', 0o644);
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/**
 * members.json, members.tsv and forwards.NETPID (what the holder's loop watches), the hosts
 * file and each member's own (hosts.d/PID, from PID.own, which the loop reads too); the hosts
 * files of members gone go. A member's forwards file is removed by whoever removes its forwards
 * (dropForwards, or the holder's loop).
 */
export function writeMembers(dir: string, members: Member[]): void {
  for (const m of members) if (m.forwards?.length) writeAtomic(forwardsFile(dir, m.netPid), forwardLines(m.forwards));
  writeAtomic(join(dir, 'members.json'), JSON.stringify(members));
  writeAtomic(join(dir, 'members.tsv'), members.map((m) => watchLine({ ...m, names: memberNames(m) })).join(''));
  const head = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';
  const names = members.map((m) => `${m.address}\t${memberNames(m).join(' ')}\n`).join('');
  writeInPlace(join(dir, 'hosts'), head + names);
  const own = ownHostsDir(dir);
  mkdirSync(own, { recursive: true, mode: 0o700 });
  for (const m of members) {
    const lines = (m.own ?? []).map((l) => `${l}\n`).join('');
    writeFileSync(join(own, `${m.netPid}.own`), lines, { mode: 0o600 });
    writeInPlace(memberHostsFile(dir, m.netPid), head + lines + names);
  }
  const kept = new Set(members.flatMap((m) => [String(m.netPid), `${m.netPid}.own`]));
  for (const f of readdirSync(own)) if (!kept.has(f)) rmSync(join(own, f), { force: true });
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
