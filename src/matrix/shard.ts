/**
 * `--shard K/N`: the K-th of N slices of a matrix. Images are sorted by their normalised name
 * (code-point order, independent of locale and of the order they were given in), and slice K
 * takes those at sorted positions i with i % N == K-1. Every machine computes the same split from
 * the same list, the slices are disjoint, their union is the whole matrix, and their sizes differ
 * by at most one. Each slice keeps the images in the order they were given: the sort only decides
 * which slice an image falls in, never the order of a report. Pure.
 */
import { FluxError } from '../errors.js';

export interface Shard {
  index: number;
  total: number;
}

export function parseShard(s: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(s);
  const index = m ? Number(m[1]) : NaN;
  const total = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(index) || !Number.isSafeInteger(total) || total < 1 || index < 1 || index > total) {
    throw new FluxError('BAD_SHARD', `"${s}" is not a valid shard.`, {
      hint: 'Use --shard K/N with 1 ≤ K ≤ N, e.g. --shard 2/3 for the second of three slices.',
      exitCode: 125,
    });
  }
  return { index, total };
}

export function selectShard<T extends { key: string }>(items: readonly T[], shard: Shard): T[] {
  const sorted = [...items].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const mine = new Set(sorted.filter((_, i) => i % shard.total === shard.index - 1));
  return items.filter((item) => mine.has(item));
}
