/**
 * A detached container's writable layer: its run directory in the store (runs/ctr-<ID>, see
 * container-runs.ts), kept after the container ends so a stopped container keeps its files, as
 * docker's does, and removed with the container. Its files belong to the image's sub-uids, so it
 * is removed from inside the user namespace.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { containerOfRun, containerRunName } from '../container-runs.js';
import { removeTree } from '../sandbox/rootfs.js';
import { stateDir } from './container-state.js';

/** Name of the file in a container's run directory that names its state directory. */
const OWNER_FILE = 'container';

/**
 * Makes the container's run directory before its monitor starts (the helper fills it later) and
 * records there which state directory it belongs to: `container prune` from another runtime
 * directory (one shell with XDG_RUNTIME_DIR set, another without) must not take it for an orphan.
 */
export function claimContainerLayer(store: string, id: string, stateDirPath: string): void {
  const dir = join(store, 'runs', containerRunName(id));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, OWNER_FILE), stateDirPath, { mode: 0o600 });
}

/** The state directory a container's run directory names (else the one under `root`). */
export function ownerOf(store: string, root: string, id: string): string {
  try {
    const p = readFileSync(join(store, 'runs', containerRunName(id), OWNER_FILE), 'utf8');
    if (p.startsWith('/')) return p;
  } catch {
    /* not written (a copy's directory alone, or removed meanwhile) */
  }
  return stateDir(root, id);
}

/** The run directories (overlay and copy) of the container `id` in the store at `store`. */
export function containerLayerDirs(store: string, id: string): string[] {
  return [containerRunName(id), containerRunName(id, true)].map((n) => join(store, 'runs', n)).filter((p) => existsSync(p));
}

/** Removes the container's writable layer; nothing when it has none (or no store is known). */
export async function removeContainerLayer(store: string | undefined, id: string): Promise<void> {
  if (store === undefined) return;
  await removeTree(containerLayerDirs(store, id));
}

/**
 * Writable layers in the store whose container has no state any more: the runtime directory went
 * with a reboot (or the state was deleted by hand). Removed; their IDs returned.
 * A container being started has its state directory before its run directory, so it is never
 * taken for one of these.
 */
export async function removeOrphanLayers(root: string, store: string): Promise<string[]> {
  let names: string[];
  try {
    names = readdirSync(join(store, 'runs'));
  } catch {
    return [];
  }
  const orphans = new Set<string>();
  for (const n of names) {
    const id = containerOfRun(n);
    if (id !== undefined && !existsSync(ownerOf(store, root, id))) orphans.add(id);
  }
  for (const id of orphans) await removeContainerLayer(store, id);
  return [...orphans];
}
