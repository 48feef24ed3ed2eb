/** Containers a test file leaves behind, whatever failed. */
import type { RunResult } from './user.js';

/** Removes every container `flux` (bound to a store and a runtime dir) knows, running or not. */
export async function removeContainers(flux: (args: string[]) => Promise<RunResult>): Promise<void> {
  const left = await flux(['ps', '-a', '-q']);
  for (const id of left.stdout.split('\n').filter(Boolean)) await flux(['rm', '-f', id]);
}
