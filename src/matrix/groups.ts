/**
 * Runs grouped by outcome: the same exit code and the same stdout (byte for byte, by digest) are
 * one group. "10 red and green rows" becomes "these two print a different version string". Pure.
 *
 * Numbering is stable: the largest group is 1, then by size, ties by the first image's place in
 * the list; the same results always get the same numbers. Images that never ran (skipped, pull
 * failed) have no stdout and group by exit code alone, apart from those that ran.
 */
import { escapeText } from '../escape.js';
import type { Entry } from './types.js';
import { STDOUT_LINES } from './capture.js';

export interface OutcomeGroup {
  /** 1 is the largest group. */
  readonly number: number;
  readonly exitCode: number | null;
  /** Absent for images that never ran. */
  readonly stdoutDigest?: string;
  /** In list order. */
  readonly entries: readonly Entry[];
}

function keyOf(e: Entry): string {
  return JSON.stringify([e.exitCode, e.stdoutDigest ?? null]);
}

export function groupOutcomes(entries: readonly Entry[]): OutcomeGroup[] {
  const byKey = new Map<string, Entry[]>();
  for (const e of entries) {
    const k = keyOf(e);
    const list = byKey.get(k);
    if (list) list.push(e);
    else byKey.set(k, [e]);
  }
  // Map keeps first-seen order, and sort is stable: ties stay in list order.
  const lists = [...byKey.values()].sort((a, b) => b.length - a.length);
  return lists.map((list, i) => {
    const first = list[0]!;
    return {
      number: i + 1,
      exitCode: first.exitCode,
      ...(first.stdoutDigest !== undefined ? { stdoutDigest: first.stdoutDigest } : {}),
      entries: list,
    };
  });
}

/** Each entry's group number. */
export function groupNumbers(groups: readonly OutcomeGroup[]): Map<Entry, number> {
  const m = new Map<Entry, number>();
  for (const g of groups) for (const e of g.entries) m.set(e, g.number);
  return m;
}

export function describeOutcome(g: OutcomeGroup): string {
  if (g.stdoutDigest === undefined) return g.exitCode === null ? 'not run' : `not run (exit ${g.exitCode})`;
  return `exit ${g.exitCode}`;
}

/** Where a group's stdout first differs from the largest group's, as one line; undefined when it does not. */
export function firstDifference(g: OutcomeGroup, largest: OutcomeGroup): string | undefined {
  if (g.stdoutDigest === undefined || largest.stdoutDigest === undefined || g.stdoutDigest === largest.stdoutDigest) return undefined;
  const a = largest.entries[0]!.stdoutTail ?? [];
  const b = g.entries[0]!.stdoutTail ?? [];
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) continue;
    const show = (l: string | undefined): string => (l === undefined ? 'no line' : `"${escapeText(l.length > 60 ? `${l.slice(0, 60)}…` : l)}"`);
    // The tails are the last lines: with more output than they hold, the line counts in that window.
    const window = a.length >= STDOUT_LINES || b.length >= STDOUT_LINES ? ` of the last ${STDOUT_LINES}` : '';
    return `stdout differs at line ${i + 1}${window}: ${show(b[i])} (group ${largest.number}: ${show(a[i])})`;
  }
  return 'stdout differs before its last lines';
}

/** The lines after the summary table: one per group, when more than one outcome occurred. */
export function groupLines(entries: readonly Entry[]): string {
  const groups = groupOutcomes(entries);
  if (groups.length < 2) return '';
  const largest = groups[0]!;
  const lines = [`${groups.length} outcomes:`];
  for (const g of groups) {
    const n = g.entries.length;
    const who = g.entries.map((e) => escapeText(e.image.ref)).join(', ');
    const alike = n === 1 ? '1 image' : `${n} images behave alike`;
    const diff = g === largest ? undefined : firstDifference(g, largest);
    lines.push(`  group ${g.number}: ${alike}: ${describeOutcome(g)}${g.stdoutDigest !== undefined && g !== largest && g.exitCode === largest.exitCode && diff ? ', different stdout' : ''}: ${who}${diff ? `\n    ${diff}` : ''}`);
  }
  return `\n${lines.join('\n')}\n`;
}
