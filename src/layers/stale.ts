/**
 * Temp directories of unpacks and removals, named `<kind>-<diffhex>-<owner>-<random>` under the
 * store's tmp/, the owner naming the process exactly (process-owner.ts). One whose process is
 * gone is left over from a crash or kill -9: it was never renamed into layers/, so it was never
 * used, and it is removed on the next unpack or prune.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ownerAlive, ownerToken, parseOwner } from '../process-owner.js';

const NAME = /^(unpack|removing)-([a-f0-9]{64})-(.+)$/;

export function tempPrefix(kind: 'unpack' | 'removing', hex: string): string {
  return `${kind}-${hex}-${ownerToken()}-`;
}

/**
 * Leftover temp trees under `tmpDir`; with `hexes`, also live-looking unpacks of those layers (the
 * caller holds their locks). One listing of tmp/ for all of them.
 */
export async function staleTemps(tmpDir: string, hexes: ReadonlySet<string> = new Set()): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(tmpDir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    const m = NAME.exec(n);
    if (!m) continue;
    const o = parseOwner((m[3] as string).split('-'));
    if (!o) continue;
    if (o.owner.pid === process.pid && (o.owner.start === undefined || m[3]!.startsWith(`${ownerToken()}-`))) continue;
    if ((m[1] === 'unpack' && hexes.has(m[2] as string)) || !ownerAlive(o.owner)) out.push(join(tmpDir, n));
  }
  return out;
}
