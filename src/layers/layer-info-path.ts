/**
 * Where a layer's info file is, and whether it is there: apart from layer-info.ts because a run
 * of a stored image asks it of every layer and should not load node:fs/promises for that.
 */
import { statSync } from 'node:fs';

export function layerInfoPath(layerPath: string): string {
  return `${layerPath}.json`;
}

export function hasLayerInfo(layerPath: string): boolean {
  return statSync(layerInfoPath(layerPath), { throwIfNoEntry: false })?.isFile() ?? false;
}
