/**
 * The names of a layer's info file (`layers/sha256/<hex>.json`, see src/layers/layer-info.ts) and
 * of its writer's temp file, known to the store: a run of a stored image asks whether each of its
 * layers has its info (without loading node:fs/promises), and prune removes temp files whose
 * writer is gone.
 */
import { statSync } from 'node:fs';

export function layerInfoPath(layerPath: string): string {
  return `${layerPath}.json`;
}

export function hasLayerInfo(layerPath: string): boolean {
  return statSync(layerInfoPath(layerPath), { throwIfNoEntry: false })?.isFile() ?? false;
}

/** A temp file of the info's writer: its layer's hex and the owner token of its writer. */
export function parseLayerInfoTemp(name: string): { hex: string; owner: string } | undefined {
  const m = /^([a-f0-9]{64})\.json\.([0-9a-f-]+)\.tmp$/.exec(name);
  return m ? { hex: m[1] as string, owner: m[2] as string } : undefined;
}
