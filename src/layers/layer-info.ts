/**
 * What flux records about an unpacked layer, in `layers/sha256/<hex>.json` next to its
 * directory (the directory itself is an overlay lower layer and must hold only the image's files).
 */
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { Digest } from '../image/types.js';
import { ownerToken } from '../process-owner.js';
import { layerInfoPath } from '../../store/layer-info-files.js';

export { hasLayerInfo, layerInfoPath, parseLayerInfoTemp } from '../../store/layer-info-files.js';

export interface LayerInfo {
  /** Bytes of file content. */
  size: number;
  /** Tar entries. */
  files: number;
  /** Which overlay xattr namespace the whiteouts' opaque markers use: mount with `userxattr` when 'user'. */
  xattr: 'user' | 'trusted';
  /**
   * Directories of the layer marked opaque (relative, '' for its root). Recorded because a run
   * reads the image's /etc/passwd from the layers without loading the native bindings that read
   * xattrs; absent in layers unpacked before it was recorded.
   */
  opaque?: string[];
}

export async function readLayerInfo(layerPath: string): Promise<LayerInfo | undefined> {
  try {
    const v = JSON.parse(await readFile(layerInfoPath(layerPath), 'utf8')) as Partial<LayerInfo>;
    if (typeof v.size !== 'number' || typeof v.files !== 'number') return undefined;
    return {
      size: v.size, files: v.files, xattr: v.xattr === 'trusted' ? 'trusted' : 'user',
      ...(Array.isArray(v.opaque) ? { opaque: v.opaque.filter((p): p is string => typeof p === 'string') } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * Written whole or not at all: through `<hex>.json.<owner>.tmp`, the owner naming this process
 * exactly (process-owner.ts), so that `flux prune` removes only the temp files of writers that
 * are gone (a kill -9 between the write and the rename), never one being written.
 */
export async function writeLayerInfo(layerPath: string, info: LayerInfo): Promise<void> {
  const path = layerInfoPath(layerPath);
  const tmp = `${path}.${ownerToken()}.tmp`;
  try {
    await writeFile(tmp, JSON.stringify(info), { mode: 0o600 });
    await rename(tmp, path);
  } catch (err) {
    // A full disk leaves a truncated file that nothing would ever read.
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

export type { Digest };
