/**
 * What is left for flux to do when a detached container ends, written when it starts to
 * ended.json in its state directory: the monitor (native/monitor.c) execs flux on it once
 * (`flux __ended ROOT ID`), after it has recorded the exit, so the cost of starting Node lands at
 * the end of the container rather than at its start. Without ended.json the monitor just exits.
 */
import { readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
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

/** `flux __ended ROOT ID`: the monitor's last step. */
export async function runEnded(root: string, id: string): Promise<void> {
  let w: EndWork;
  try {
    w = JSON.parse(readFileSync(join(stateDir(root, id), FILE), 'utf8')) as EndWork;
  } catch {
    return; // removed meanwhile (flux rm)
  }
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
  if (!w.autoRemove) return;
  // The writable layer first, then the state: whoever waits for the state to go finds nothing left.
  await removeContainerLayer(w.store, id);
  const s = readState(root, id);
  if (s) removeState(root, s);
}
