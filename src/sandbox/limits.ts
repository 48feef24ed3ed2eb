/**
 * --memory, --cpus, --pids-limit: a cgroup of the run's own, in a delegated cgroup v2 subtree or a
 * writable cgroup v1 hierarchy. Anywhere else one sentence says why it cannot work; nothing else
 * about a run depends on the cgroup layout.
 */
import { accessSync, constants, mkdirSync, readFileSync, rmdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FluxError } from '../errors.js';

export interface Limits {
  memory?: string;
  cpus?: string;
  pidsLimit?: string;
}

export interface LimitHandle {
  join(pid: number): Promise<void>;
  remove(): Promise<void>;
  /** Its cgroup directories: a detached container's are removed when it ends (container/ended.ts). */
  dirs: string[];
}

const bad = (flag: string, v: string, hint: string) => new FluxError('BAD_LIMIT', `invalid ${flag} value "${v}".`, { hint, exitCode: 125 });

export function parseMemory(v: string): number {
  const m = /^(\d+(?:\.\d+)?)([bkmg]?)b?$/i.exec(v.trim());
  if (!m) throw bad('--memory', v, 'Write a size such as 512m or 2g.');
  const mult = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase()] ?? 1;
  const n = Math.floor(Number(m[1]) * mult);
  if (n < 6 * 1024 * 1024) throw bad('--memory', v, 'The minimum is 6m.');
  return n;
}

export function parseCpus(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw bad('--cpus', v, 'Write a positive number such as 1.5.');
  return n;
}

export function parsePids(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n === 0 || n < -1) throw bad('--pids-limit', v, 'Write a positive whole number (or -1 for no limit).');
  return n;
}

function writable(p: string): boolean {
  try {
    accessSync(p, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The settings as files of a cgroup (v1 or v2 names), grouped by v1 controller. */
function settings(l: Limits, v2: boolean): { controller: string; file: string; value: string }[] {
  const out: { controller: string; file: string; value: string }[] = [];
  if (l.memory !== undefined) {
    const b = String(parseMemory(l.memory));
    out.push(v2 ? { controller: 'memory', file: 'memory.max', value: b } : { controller: 'memory', file: 'memory.limit_in_bytes', value: b });
  }
  if (l.cpus !== undefined) {
    const quota = Math.round(parseCpus(l.cpus) * 100000);
    if (v2) out.push({ controller: 'cpu', file: 'cpu.max', value: `${quota} 100000` });
    else {
      out.push({ controller: 'cpu', file: 'cpu.cfs_period_us', value: '100000' });
      out.push({ controller: 'cpu', file: 'cpu.cfs_quota_us', value: String(quota) });
    }
  }
  if (l.pidsLimit !== undefined) {
    const n = parsePids(l.pidsLimit);
    out.push({ controller: 'pids', file: 'pids.max', value: n < 0 ? 'max' : String(n) });
  }
  return out;
}

export function checkLimits(l: Limits): LimitHandle | undefined {
  if (l.memory === undefined && l.cpus === undefined && l.pidsLimit === undefined) return undefined;
  const flags = [l.memory !== undefined && '--memory', l.cpus !== undefined && '--cpus', l.pidsLimit !== undefined && '--pids-limit'].filter(Boolean).join(', ');
  const id = `flux-${randomBytes(6).toString('hex')}`;

  // cgroup v2, delegated: our own cgroup already hands the controllers down and is ours to write.
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    const own = /^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
    if (own !== undefined) {
      const parent = join('/sys/fs/cgroup', own);
      const wanted = settings(l, true);
      let sub = '';
      try {
        sub = readFileSync(join(parent, 'cgroup.subtree_control'), 'utf8');
      } catch {
        // not delegated
      }
      if (writable(parent) && wanted.every((w) => sub.split(/\s+/).includes(w.controller))) {
        const dir = join(parent, id);
        mkdirSync(dir);
        for (const w of wanted) writeFileSync(join(dir, w.file), w.value);
        return {
          join: async (pid) => writeFileSync(join(dir, 'cgroup.procs'), String(pid)),
          remove: async () => rmdirQuiet(dir),
          dirs: [dir],
        };
      }
    }
  } else {
    // cgroup v1: each controller's hierarchy must be writable by us.
    const wanted = settings(l, false);
    const roots = [...new Set(wanted.map((w) => w.controller))].map((c) => ({ c, root: join('/sys/fs/cgroup', c) }));
    if (roots.every((r) => writable(r.root))) {
      const dirs = roots.map((r) => ({ ...r, dir: join(r.root, id) }));
      for (const d of dirs) mkdirSync(d.dir);
      for (const w of wanted) writeFileSync(join(dirs.find((d) => d.c === w.controller)!.dir, w.file), w.value);
      return {
        join: async (pid) => {
          for (const d of dirs) writeFileSync(join(d.dir, 'cgroup.procs'), String(pid));
        },
        remove: async () => {
          for (const d of dirs) rmdirQuiet(d.dir);
        },
        dirs: dirs.map((d) => d.dir),
      };
    }
  }
  throw new FluxError('NO_CGROUP', `${flags} needs a cgroup flux may manage, and this system gives you neither a delegated cgroup v2 subtree nor a writable cgroup v1 hierarchy.`, {
    hint: 'Use a systemd session with cgroup v2 delegation (e.g. `systemd-run --user --scope -p Delegate=yes flux …`), or run without resource limits.',
    exitCode: 125,
  });
}

function rmdirQuiet(dir: string): void {
  // The cgroup empties once every process of the run has exited; retry briefly.
  for (let i = 0; i < 50; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY') return;
      const until = Date.now() + 10;
      while (Date.now() < until) {
        // short spin: the helper has already exited, its children are being reaped
      }
    }
  }
}
