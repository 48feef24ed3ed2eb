/**
 * Which detached containers use an image: those whose writable layer (run directory) in this
 * store lists exactly the image's layers. Asked before `flux rmi` deletes an image, which docker
 * refuses while a container (running or stopped) was made from it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RUN_LAYERS_FILE } from '../container-runs.js';
import type { ImageRecord } from '../../store/image-index.js';
import { listStates, type ContainerState } from './container-state.js';
import { containerLayerDirs } from './container-layer.js';

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

/** The first container under `root` made from `record` in the store at `store`, if any. */
export function containerUsing(root: string, store: string, record: ImageRecord): ContainerState | undefined {
  if (record.layers.length === 0) return undefined;
  const wanted = record.layers.map((l) => `${l.diffId}\n`).join('');
  return listStates(root).find((s) => s.store === store && layersOf(store, s.id) === wanted);
}
