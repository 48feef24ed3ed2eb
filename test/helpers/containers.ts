/** Containers a test file leaves behind, whatever failed. */
import { readdirSync, readFileSync } from 'node:fs';
import type { RunResult } from './user.js';

/** Removes every container `flux` (bound to a store and a runtime dir) knows, running or not. */
export async function removeContainers(flux: (args: string[]) => Promise<RunResult>): Promise<void> {
  const left = await flux(['ps', '-a', '-q']);
  for (const id of left.stdout.split('\n').filter(Boolean)) await flux(['rm', '-f', id]);
}

/** Polls `probe` every 100 ms until `done` holds, failing after `ms` with what it last saw. */
export async function until<T>(what: string, probe: () => Promise<T>, done: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Host processes whose command line holds `token` (a container's own, told apart by a random number). */
export function processesWith(token: string): number[] {
  const found: number[] = [];
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(token)) found.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return found;
}
