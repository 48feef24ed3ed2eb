/**
 * Who made a run dir or a temp tree, exactly enough that garbage collection never mistakes a
 * dead run for a live one or the reverse. A bare pid is not: pids are reused (a new process
 * with the old pid kept a dead run's layers forever), and a store shared across pid namespaces
 * (a CI cache volume mounted into several containers) sees pids that mean another process, or
 * nothing, here (a live run's layers were deleted). So a name carries
 *
 *   PID-START-PIDNS-BOOT
 *
 * START is the process's start time (/proc/PID/stat field 22, clock ticks since boot), PIDNS
 * the inode of its pid namespace, BOOT the kernel's boot id. The owner is alive when it was
 * recorded in this boot and, in our pid namespace, that pid still has that start time. One
 * recorded in another pid namespace cannot be checked from here, so it counts as alive; one
 * recorded in an earlier boot is dead. Names of the older `PID` form get the bare pid check.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { isAlive } from './pid-alive.js';

export interface Owner {
  pid: number;
  /** Absent for the older names that hold only a pid. */
  start?: string;
  pidns?: string;
  boot?: string;
}

let self: string | undefined;

/** This process as `PID-START-PIDNS-BOOT` (read once: three small reads of /proc). */
export function ownerToken(): string {
  if (self !== undefined) return self;
  const start = startTime('self');
  const pidns = pidNamespace('self');
  const boot = bootId();
  // Without /proc nothing can be checked later: the bare pid is all there is.
  self = start !== undefined && pidns !== undefined && boot !== undefined ? `${process.pid}-${start}-${pidns}-${boot}` : String(process.pid);
  return self;
}

/** The owner at the start of `parts` (a name split on '-'), and how many parts it took; undefined if none. */
export function parseOwner(parts: string[]): { owner: Owner; used: number } | undefined {
  const [pid, start, pidns, boot] = parts;
  if (pid === undefined || !/^[1-9]\d*$/.test(pid)) return undefined;
  if (start !== undefined && /^\d+$/.test(start) && pidns !== undefined && /^\d+$/.test(pidns) && boot !== undefined && /^[0-9a-f]{16}$/.test(boot)) {
    return { owner: { pid: Number(pid), start, pidns, boot }, used: 4 };
  }
  return { owner: { pid: Number(pid) }, used: 1 };
}

/** Whether the owner may still be running (see the top of this file). */
export function ownerAlive(o: Owner): boolean {
  if (o.start === undefined || o.pidns === undefined || o.boot === undefined) return isAlive(o.pid);
  const me = ownerToken().split('-');
  if (me.length < 4) return isAlive(o.pid);
  if (o.boot !== me[3]) return false;
  if (o.pidns !== me[2]) return true;
  // /proc may show another pid namespace than ours (unshare --pid without a new /proc): then
  // its pids are not the ones recorded.
  if (readlinkOr('/proc/self') !== String(process.pid)) return isAlive(o.pid);
  return startTime(String(o.pid)) === o.start;
}

/** Field 22 of /proc/PID/stat; the command name (field 2) may hold spaces and parentheses. */
export function startTime(pid: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state). A zombie has ended: it only waits for a parent (or an init that
  // does not reap) to collect its status, and owns nothing any more.
  if (rest[0] === 'Z') return undefined;
  const v = rest[22 - 3];
  return v !== undefined && /^\d+$/.test(v) ? v : undefined;
}

function pidNamespace(pid: string): string | undefined {
  return /^pid:\[(\d+)\]$/.exec(readlinkOr(`/proc/${pid}/ns/pid`) ?? '')?.[1];
}

function bootId(): string | undefined {
  try {
    const id = readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim().replaceAll('-', '');
    return /^[0-9a-f]{32}$/.test(id) ? id.slice(0, 16) : undefined;
  } catch {
    return undefined;
  }
}

function readlinkOr(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}
