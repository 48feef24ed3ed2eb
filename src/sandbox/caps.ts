import { FluxError } from '../errors.js';

/** Linux capability numbers (linux/capability.h). */
export const CAPS: Record<string, number> = {
  CHOWN: 0, DAC_OVERRIDE: 1, DAC_READ_SEARCH: 2, FOWNER: 3, FSETID: 4, KILL: 5, SETGID: 6, SETUID: 7,
  SETPCAP: 8, LINUX_IMMUTABLE: 9, NET_BIND_SERVICE: 10, NET_BROADCAST: 11, NET_ADMIN: 12, NET_RAW: 13,
  IPC_LOCK: 14, IPC_OWNER: 15, SYS_MODULE: 16, SYS_RAWIO: 17, SYS_CHROOT: 18, SYS_PTRACE: 19,
  SYS_PACCT: 20, SYS_ADMIN: 21, SYS_BOOT: 22, SYS_NICE: 23, SYS_RESOURCE: 24, SYS_TIME: 25,
  SYS_TTY_CONFIG: 26, MKNOD: 27, LEASE: 28, AUDIT_WRITE: 29, AUDIT_CONTROL: 30, SETFCAP: 31,
  MAC_OVERRIDE: 32, MAC_ADMIN: 33, SYSLOG: 34, WAKE_ALARM: 35, BLOCK_SUSPEND: 36, AUDIT_READ: 37,
  PERFMON: 38, BPF: 39, CHECKPOINT_RESTORE: 40,
};

/** podman's default set. */
export const DEFAULT_CAPS = [
  'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
];

function capName(raw: string): string | 'ALL' {
  const n = raw.trim().toUpperCase().replace(/^CAP_/, '');
  if (n === 'ALL') return 'ALL';
  if (!(n in CAPS)) {
    throw new FluxError('BAD_CAP', `unknown capability "${raw}".`, { hint: 'Use names like NET_ADMIN or CAP_NET_ADMIN (see capabilities(7)), or ALL.', exitCode: 125 });
  }
  return n;
}

/** The effective set after --cap-add/--cap-drop (docker order: drop ALL first, then add). */
export function capSet(add: string[], drop: string[]): Set<string> {
  const set = new Set(DEFAULT_CAPS);
  const dropNames = drop.flatMap((d) => d.split(',')).filter(Boolean).map(capName);
  const addNames = add.flatMap((a) => a.split(',')).filter(Boolean).map(capName);
  if (dropNames.includes('ALL')) set.clear();
  for (const d of dropNames) if (d !== 'ALL') set.delete(d);
  if (addNames.includes('ALL')) for (const c of Object.keys(CAPS)) set.add(c);
  for (const a of addNames) if (a !== 'ALL') set.add(a);
  return set;
}

/** The 64-bit mask as hex, as /proc/PID/status prints CapEff. */
export function capMask(set: Iterable<string>): string {
  let m = 0n;
  for (const c of set) {
    const bit = CAPS[c];
    if (bit !== undefined) m |= 1n << BigInt(bit);
  }
  return m.toString(16).padStart(16, '0');
}
