/**
 * The writable layers of foreground runs whose flux was killed (kill -9, a crash): the next run
 * removes them (src/sandbox/rootfs.ts), and so does `flux prune`, which is what a full disk
 * suggests. Never a live run's, never a detached container's.
 */
import { existsSync } from 'node:fs';
import { diskUsage } from '../../store/disk-usage.js';
import { removeTree, staleRunDirs } from '../sandbox/rootfs.js';

/** Removes the stale run dirs under `runsDir`; how many went and their bytes. */
export async function removeStaleRuns(runsDir: string): Promise<{ count: number; freedBytes: number }> {
  const stale = staleRunDirs(runsDir);
  const sizes = new Map<string, number>();
  for (const p of stale) sizes.set(p, await diskUsage(p));
  await removeTree(stale);
  // The removal is best effort: count only what is gone.
  let count = 0;
  let freedBytes = 0;
  for (const [p, size] of sizes) {
    if (existsSync(p)) continue;
    count++;
    freedBytes += size;
  }
  return { count, freedBytes };
}
