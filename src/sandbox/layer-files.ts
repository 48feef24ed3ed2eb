import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A small file of the image as the assembled rootfs would show it, read from the unpacked layers
 * (topmost first) without mounting anything: the first layer that has it as a regular file wins;
 * a whiteout (0/0 character device) or a non-file hides it. Used for /etc/passwd and /etc/group.
 */
export function readLayerFile(lowersTopFirst: string[], rel: string): string | undefined {
  for (const layer of lowersTopFirst) {
    const p = join(layer, rel);
    let st;
    try {
      // A layer without the file is the common case (a file of the base layer): no exception for it.
      st = lstatSync(p, { throwIfNoEntry: false });
    } catch {
      continue; // e.g. a file where the path expects a directory
    }
    if (st === undefined) continue;
    if (!st.isFile()) return undefined;
    if (st.size > 4 * 1024 * 1024) return undefined;
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return undefined;
    }
  }
  return undefined;
}
