/**
 * What /proc says about a container, for machines where it has no cgroup of its own: whether its
 * monitor lives, which processes are its (the members of its pid namespace), and their usage.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Fields of /proc/PID/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** A process's start time in clock ticks since boot (field 22), or undefined when it is gone. */
export function startTime(pid: number): number | undefined {
  const f = statFields(pid);
  return f ? Number(f[19]) : undefined;
}

/** The process that started at `start` still runs as `pid` (a reused pid is another process). */
export function sameProcess(pid: number, start: number): boolean {
  const f = statFields(pid);
  return f !== undefined && Number(f[19]) === start && f[0] !== 'Z';
}

const nsOf = (pid: number, ns: string): string | undefined => {
  try {
    return readlinkSync(`/proc/${pid}/ns/${ns}`);
  } catch {
    return undefined;
  }
};

const allPids = (): number[] => readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);

/**
 * Every process's stat fields, read once: `flux ps` finds the processes of all its containers
 * in one pass over /proc instead of one per container. Namespace links are read when asked.
 */
export class ProcSnapshot {
  readonly stats = new Map<number, string[]>();
  private readonly ns = new Map<number, string | undefined>();

  constructor() {
    for (const pid of allPids()) {
      const f = statFields(pid);
      if (f) this.stats.set(pid, f);
    }
  }

  pidNs(pid: number): string | undefined {
    if (!this.ns.has(pid)) this.ns.set(pid, nsOf(pid, 'pid'));
    return this.ns.get(pid);
  }
}

/** Whether a process is pid 1 of a pid namespace below the host's (NSpid, readable by anyone). */
function isNamespaceInit(pid: number): boolean {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('NSpid:'));
    const ids = line?.split(/\s+/).slice(1) ?? [];
    return ids.length > 1 && ids[ids.length - 1] === '1';
  } catch {
    return false;
  }
}

/** The container's init: the child of the helper that is pid 1 of a new pid namespace. */
export function initPid(helperPid: number, snap = new ProcSnapshot()): number | undefined {
  for (const [pid, f] of snap.stats) if (Number(f[1]) === helperPid && isNamespaceInit(pid)) return pid;
  return undefined;
}

/**
 * Every process of the container, init first: init and its descendants, and every other member
 * of its pid namespace (a process joined from outside, as by `flux exec`). Init itself is not
 * dumpable, so its namespace is read from a descendant that runs the image's programs.
 */
export function members(init: number, snap = new ProcSnapshot()): number[] {
  const found = new Set<number>([init]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, f] of snap.stats) {
      if (!found.has(pid) && found.has(Number(f[1]))) {
        found.add(pid);
        grew = true;
      }
    }
  }
  const ns = [...found].map((p) => snap.pidNs(p)).find((n) => n !== undefined);
  // Only processes that share no ancestry with init need their namespace read (an exec's).
  if (ns !== undefined) for (const pid of snap.stats.keys()) if (!found.has(pid) && snap.pidNs(pid) === ns) found.add(pid);
  return [...found].sort((a, b) => (a === init ? -1 : b === init ? 1 : a - b));
}

/**
 * Bytes received and sent on the network namespace of `pid`, loopback left out (what goes in and
 * out of the container, not within it).
 */
export function netBytes(pid: number): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  try {
    for (const line of readFileSync(`/proc/${pid}/net/dev`, 'utf8').split('\n').slice(2)) {
      const [name, rest] = line.split(':');
      if (rest === undefined || name!.trim() === 'lo') continue;
      const f = rest.trim().split(/\s+/).map(Number);
      rx += f[0] ?? 0;
      tx += f[8] ?? 0;
    }
  } catch {
    /* gone, or not ours to read */
  }
  return { rx, tx };
}

export interface Usage {
  /** user+system time in clock ticks, summed. */
  ticks: number;
  /** resident memory in bytes, summed. */
  rss: number;
  pids: number;
}

const PAGE = 4096;

export function usage(pids: number[], snap?: ProcSnapshot): Usage {
  let ticks = 0;
  let rss = 0;
  let count = 0;
  for (const p of pids) {
    const f = snap ? snap.stats.get(p) : statFields(p);
    if (!f) continue;
    count++;
    ticks += Number(f[11]) + Number(f[12]);
    rss += Number(f[21]) * PAGE;
  }
  return { ticks, rss, pids: count };
}

/**
 * Bytes the container's live processes made the kernel read from and write to storage
 * (`read_bytes`/`write_bytes` of /proc/PID/io), summed over those whose file we may read; null
 * when none is readable. A process that has ended takes its counts with it, as does a write that
 * never reaches a block device (tmpfs).
 */
export function blockIo(pids: number[]): { read: number; write: number } | null {
  let read = 0;
  let write = 0;
  let any = false;
  for (const p of pids) {
    let text: string;
    try {
      text = readFileSync(`/proc/${p}/io`, 'latin1');
    } catch {
      continue; // gone, or not ours to read (ptrace access)
    }
    any = true;
    read += Number(/^read_bytes: (\d+)$/m.exec(text)?.[1] ?? 0);
    write += Number(/^write_bytes: (\d+)$/m.exec(text)?.[1] ?? 0);
  }
  return any ? { read, write } : null;
}
