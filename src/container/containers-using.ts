/**
 * Which detached containers use an image: those whose writable layer (run directory) in this
 * store lists exactly the image's layers. Asked before `flux rmi` deletes an image, which docker
 * refuses while a container (running or stopped) was made from it. Every container of the store
 * counts, whichever runtime directory holds its state (one shell with XDG_RUNTIME_DIR set,
 * another without): its run directory names its state directory (container-layer.ts).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ImageRecord } from '../../store/image-index.js';
import { containerOfRun, RUN_LAYERS_FILE } from '../container-runs.js';
import { readState, type ContainerState } from './container-state.js';
import { containerLayerDirs, ownerOf } from './container-layer.js';

function layersOf(store: string, id: string): string | undefined {
  for (const dir of containerLayerDirs(store, id)) {
    try {
      return readFileSync(join(dir, RUN_LAYERS_FILE), 'utf8');
    } catch {
      /* not written yet, or removed meanwhile */
    }
  }
  return undefined;
}

/**
 * The first container made from `record` in the store at `store`, if any: its state when it is
 * readable, else (the state is being written or removed) its ID for a name. A run directory whose
 * state directory is gone (a reboot) is no container's any more: `container prune` collects it.
 */
export function containerUsing(root: string, store: string, record: ImageRecord): Pick<ContainerState, 'id' | 'name'> | undefined {
  if (record.layers.length === 0) return undefined;
  const wanted = record.layers.map((l) => `${l.diffId}\n`).join('');
  let names: string[];
  try {
    names = readdirSync(join(store, 'runs'));
  } catch {
    return undefined;
  }
  const ids = new Set(names.map((n) => containerOfRun(n)).filter((id): id is string => id !== undefined));
  for (const id of ids) {
    if (layersOf(store, id) !== wanted) continue;
    const dir = ownerOf(store, root, id);
    if (!existsSync(dir)) continue;
    return readState(dirname(dir), id) ?? { id, name: id.slice(0, 12) };
  }
  return undefined;
}
