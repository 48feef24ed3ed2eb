/**
 * Temp directories of unpacks and removals, named `<kind>-<diffhex>-<pid>-<random>` under the
 * store's tmp/. One whose process is gone is left over from a crash or kill -9: it was never
 * renamed into layers/, so it was never used, and it is removed on the next unpack or prune.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isAlive } from '../pid-alive.js';

const NAME = /^(unpack|removing)-([a-f0-9]{64})-(\d+)-/;

export function tempPrefix(kind: 'unpack' | 'removing', hex: string): string {
  return `${kind}-${hex}-${process.pid}-`;
}

/** Leftover temp trees under `tmpDir`; with `hex`, also live-looking ones of that layer (the caller holds its lock). */
export async function staleTemps(tmpDir: string, hex?: string): Promise<string[]> {
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
    const pid = Number(m[3]);
    if (pid === process.pid) continue;
    if ((hex !== undefined && m[2] === hex && m[1] === 'unpack') || !isAlive(pid)) out.push(join(tmpDir, n));
  }
  return out;
}
