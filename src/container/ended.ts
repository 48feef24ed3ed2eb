/**
 * What is left for flux to do when a detached container ends, written when it starts to
 * ended.json in its state directory: the monitor (native/monitor.c) execs flux on it once
 * (`flux __ended ROOT ID`), after it has recorded the exit, so the cost of starting Node lands at
 * the end of the container rather than at its start. Without ended.json the monitor just exits.
 */
import { readdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { isAlive } from '../pid-alive.js';
import { join } from 'node:path';
import { readState, removeState, stateDir } from './container-state.js';
import { removeContainerLayer } from './container-layer.js';
import type { HandedMember } from './user-networks.js';

export interface EndWork {
  /** --rm: the writable layer and the state go. */
  autoRemove: boolean;
  store?: string;
  /** Files to remove (slirp4netns's API socket). */
  files: string[];
  /** Pid files of network helpers to stop (pasta). */
  pidFiles: string[];
  /** The user network to leave. */
  network?: HandedMember;
  /** cgroup directories to remove (limits). */
  cgroups: string[];
}

const FILE = 'ended.json';

/** Records the work, if there is any: a container without any costs nothing at its end. */
export function writeEndWork(dir: string, w: EndWork): void {
  if (!w.autoRemove && w.files.length === 0 && w.pidFiles.length === 0 && !w.network && w.cgroups.length === 0) return;
  writeFileSync(join(dir, FILE), JSON.stringify(w), { mode: 0o600 });
}

const TAKEN = 'ending.';

/**
 * Takes the end work, so that it is done once: the monitor's `flux __ended` and `flux rm` (of a
 * container that has just ended, or whose monitor was killed) may both reach for it. The rename is
 * atomic: one of them gets the file, renamed after its pid, and the other none.
 */
function takeEndWork(root: string, id: string, from = FILE): { work: EndWork; file: string } | undefined {
  const file = join(stateDir(root, id), `${TAKEN}${process.pid}`);
  try {
    renameSync(join(stateDir(root, id), from), file);
    return { work: JSON.parse(readFileSync(file, 'utf8')) as EndWork, file };
  } catch {
    return undefined;
  }
}

/** What the container held outside its state: network helpers, sockets, its network membership, cgroups. */
async function releaseHeld(w: EndWork): Promise<void> {
  if (w.pidFiles.length > 0) {
    const { stopPastaOf } = await import('../sandbox/pasta.js');
    for (const f of w.pidFiles) stopPastaOf(f);
  }
  for (const f of w.files) rmSync(f, { force: true });
  if (w.network) await (await import('./user-networks.js')).leaveHandedOver(w.network);
  for (const d of w.cgroups) {
    try {
      rmdirSync(d);
    } catch {
      /* gone, or not empty yet: the kernel frees it with its last process */
    }
  }
}

/** `flux __ended ROOT ID`: the monitor's last step. */
export async function runEnded(root: string, id: string): Promise<void> {
  const taken = takeEndWork(root, id);
  if (!taken) return; // none, or flux rm has it
  const { work: w, file } = taken;
  await releaseHeld(w);
  if (!w.autoRemove) {
    rmSync(file, { force: true });
    return;
  }
  // The writable layer first, then the state: whoever waits for the state to go finds nothing left.
  await removeContainerLayer(w.store, id);
  const s = readState(root, id);
  if (s) removeState(root, s);
}

/**
 * `flux rm` of a container that has ended, before its state goes: `rm -f` of a running one gets
 * here as soon as its exit is recorded, before the monitor's `flux __ended` could read the work
 * from the state, and a monitor killed with kill -9 never has it run. So rm does what the
 * container held itself (the state and writable layer are rm's own to remove), or, when
 * `flux __ended` took the work first, waits until it is done: nothing is left once rm returns.
 */
export async function endBeforeRemove(root: string, id: string): Promise<void> {
  for (;;) {
    let names: string[];
    try {
      names = readdirSync(stateDir(root, id));
    } catch {
      return; // removed by the --rm end meanwhile
    }
    // The work itself, or the one a taker that died halfway left behind.
    const left = names.find((n) => n === FILE || (n.startsWith(TAKEN) && !isAlive(Number(n.slice(TAKEN.length)))));
    const taken = left !== undefined ? takeEndWork(root, id, left) : undefined;
    if (taken) {
      await releaseHeld(taken.work);
      rmSync(taken.file, { force: true });
      return;
    }
    // Nothing left to do; else a live taker works on it, or took it just before us: wait for it.
    if (left === undefined && !names.some((n) => n.startsWith(TAKEN))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
