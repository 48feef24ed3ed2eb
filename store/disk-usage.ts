import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Bytes a file tree occupies (allocated blocks; hard links counted once). Best effort: unpacked
 * layers hold files of sub-uids the caller may not be able to read, which are skipped.
 */
export async function diskUsage(path: string, seen = new Set<string>()): Promise<number> {
  let st;
  try {
    st = await lstat(path);
  } catch {
    return 0;
  }
  const id = `${st.dev}:${st.ino}`;
  if (seen.has(id)) return 0;
  seen.add(id);
  let total = st.blocks * 512;
  if (st.isDirectory()) {
    let names: string[] = [];
    try {
      names = await readdir(path);
    } catch {
      return total;
    }
    for (const n of names) total += await diskUsage(join(path, n), seen);
  }
  return total;
}
