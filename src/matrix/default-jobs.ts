import { availableParallelism } from 'node:os';

/**
 * How many runs of a matrix go at once when `--jobs` is not given: the number of cores, and at
 * least 4. A run inside the matrix process costs that process a few milliseconds of planning; the
 * rest is its sandbox helper and the kernel (namespaces, id maps, mounts), much of it waiting.
 * Held to the number of cores, a 2-core machine left a core idle in every such wait: a matrix of 4
 * images of `true` took about 1.1× as long at 2 at once as at 4 (more under load).
 */
export function defaultJobs(cores: number = availableParallelism()): number {
  return Math.max(cores, 4);
}
