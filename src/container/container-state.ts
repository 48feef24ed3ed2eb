/**
 * The state of containers that outlive the command (`flux run -d`): one directory per container
 * under the user's runtime directory (containers/<id>/), holding state.json (rewritten whole,
 * through a rename, so a reader never sees half of it), the exit file and log its monitor writes
 * (native/monitor.c), and what is left for flux at its end (ended.json).
 * Names are files under containers/names/, created exclusively: two runs cannot take one name.
 */
import { checkContainerName } from './run-names.js';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomHex } from '../sandbox/rootfs.js';
import { FluxError } from '../errors.js';
import { runtimeDir } from '../runtime-dir.js';
import { recordEvent } from './container-events.js';

export interface ContainerState {
  id: string;
  name: string;
  image: string;
  command: string[];
  created: string;
  /** created: the monitor is preparing it; running: its command runs; exited: it ended. */
  status: 'created' | 'running' | 'exited';
  /** The monitor, and its start time in clock ticks since boot (a reused pid is told apart). */
  monitorPid: number;
  monitorStart: number;
  /** The sandbox helper, parent of the container's init. */
  helperPid?: number;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number | null;
  ports: string[];
  autoRemove: boolean;
  /** flux's own reason when the container could not be started. */
  error?: string;
  /** The store its layers and run directory are in. */
  store?: string;
}


/** The directory holding every container's state, made private on first use. */
export function containersRoot(chosen?: string): string {
  const root = join(runtimeDir(chosen), 'containers');
  mkdirSync(join(root, 'names'), { recursive: true, mode: 0o700 });
  return root;
}

export const stateDir = (root: string, id: string): string => join(root, id);
export const logPath = (root: string, id: string): string => join(root, id, 'log');

// Random bytes from the kernel (randomHex), not node:crypto: these modules are in the run chunk,
// and loading node:crypto at its top cost every plain `flux run` some milliseconds.
export function newId(): string {
  return randomHex(32);
}

/** A random name of two words (as docker's), for a run without --name. */
export function randomName(): string {
  const a = ['brave', 'calm', 'eager', 'quiet', 'swift', 'bold', 'keen', 'merry', 'proud', 'wise'];
  const b = ['otter', 'heron', 'lynx', 'falcon', 'badger', 'raven', 'marten', 'ibex', 'wren', 'stoat'];
  const r = Buffer.from(randomHex(4), 'hex');
  return `${a[r[0]! % a.length]!}_${b[r[1]! % b.length]!}_${r.subarray(2).toString('hex')}`;
}

/** Takes a name for an ID, or refuses with the ID of the container that has it. */
export function claimName(root: string, name: string, id: string): void {
  checkContainerName(name);
  try {
    writeFileSync(join(root, 'names', name), id, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    let other = '';
    try {
      other = readFileSync(join(root, 'names', name), 'utf8');
    } catch {
      /* removed meanwhile */
    }
    throw new FluxError('NAME_IN_USE', `the container name ${name} is already in use by container ${other}.`, {
      hint: `Remove that container (flux rm ${name}) or choose another --name.`,
      exitCode: 125,
    });
  }
}

export function releaseName(root: string, name: string, id: string): void {
  try {
    if (readFileSync(join(root, 'names', name), 'utf8') === id) unlinkSync(join(root, 'names', name));
  } catch {
    /* not there */
  }
}

export function writeState(root: string, s: ContainerState): void {
  const dir = stateDir(root, s.id);
  const tmp = join(dir, `.state.${process.pid}`);
  writeFileSync(tmp, JSON.stringify(s), { mode: 0o600 });
  renameSync(tmp, join(dir, 'state.json'));
}

/**
 * The state, with the end its monitor recorded: native/monitor.c writes the exit status and end
 * time to `exit` beside state.json, which only flux writes.
 */
export function readState(root: string, id: string): ContainerState | undefined {
  let s: ContainerState;
  try {
    s = JSON.parse(readFileSync(join(stateDir(root, id), 'state.json'), 'utf8')) as ContainerState;
  } catch {
    return undefined;
  }
  if (s.status === 'exited') return s;
  try {
    const end = JSON.parse(readFileSync(join(stateDir(root, id), 'exit'), 'utf8')) as { exitCode: number; finishedAt: string };
    return { ...s, status: 'exited', exitCode: end.exitCode, finishedAt: end.finishedAt };
  } catch {
    return s;
  }
}

/** Every container with a state file, oldest first. */
export function listStates(root: string): ContainerState[] {
  const ids = readdirSync(root).filter((n) => /^[0-9a-f]{64}$/.test(n));
  const all = ids.map((id) => readState(root, id)).filter((s): s is ContainerState => s !== undefined);
  return all.sort((a, b) => a.created.localeCompare(b.created));
}

/** A container by name, full ID or unique ID prefix. */
export function findState(root: string, ref: string): ContainerState {
  const all = listStates(root);
  const exact = all.find((s) => s.name === ref || s.id === ref);
  if (exact) return exact;
  const matches = /^[0-9a-f]+$/.test(ref) ? all.filter((s) => s.id.startsWith(ref)) : [];
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw new FluxError('AMBIGUOUS_CONTAINER', `the ID prefix ${ref} names ${matches.length} containers.`, { hint: 'Give more digits of the ID, or the name.', exitCode: 125 });
  }
  throw new FluxError('NO_CONTAINER', `no container is named ${JSON.stringify(ref)} or has an ID starting so.`, { hint: 'List them with flux ps -a.', exitCode: 125 });
}

/** Removes a container's state and frees its name. */
export function removeState(root: string, s: ContainerState): void {
  releaseName(root, s.name, s.id);
  // Renamed out of the way first, in one step: a reader (ps, wait) sees the container whole or
  // not at all, never a directory whose state.json is already gone.
  const gone = join(root, `.removing-${s.id}-${process.pid}`);
  let existed = true;
  try {
    renameSync(stateDir(root, s.id), gone);
  } catch {
    existed = false;
  }
  rmSync(gone, { recursive: true, force: true });
  if (existed) recordEvent(root, { id: s.id, name: s.name, event: 'removed' });
}
