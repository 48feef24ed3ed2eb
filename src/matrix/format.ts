/** The end of a matrix: the summary table for people, `--json` for programs. Pure. */
import { verdictOf, type Entry, type Verdict } from './types.js';
import { escapeText } from '../escape.js';
import { groupNumbers, groupOutcomes } from './groups.js';

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

function shortDigest(d: string | undefined): string {
  if (!d) return '-';
  const i = d.indexOf(':');
  return `${d.slice(0, i + 1)}${d.slice(i + 1, i + 13)}`;
}

export function summaryTable(entries: readonly Entry[]): string {
  const rows = entries.map((e) => [
    escapeText(e.image.ref),
    shortDigest(e.digest),
    e.exitCode === null ? '-' : String(e.exitCode),
    e.durationMs === 0 && (verdictOf(e) === 'skipped' || e.error !== undefined) ? '-' : formatDuration(e.durationMs),
    verdictOf(e),
  ]);
  const header = ['IMAGE', 'DIGEST', 'EXIT', 'DURATION', 'VERDICT'];
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const lines = all.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] ?? 0))).join('   '));
  const counts = countVerdicts(entries);
  lines.push('');
  lines.push(`${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped${counts.interrupted > 0 ? `, ${counts.interrupted} interrupted` : ''}`);
  return `${lines.join('\n')}\n`;
}

export function countVerdicts(entries: readonly Entry[]): Record<Verdict, number> {
  const c: Record<Verdict, number> = { passed: 0, failed: 0, skipped: 0, interrupted: 0 };
  for (const e of entries) c[verdictOf(e)]++;
  return c;
}

export interface JsonResult {
  image: string;
  digest: string | null;
  exitCode: number | null;
  durationMs: number;
  verdict: Verdict;
  /** Runs with the same exit code and stdout share a number; 1 is the largest group (see groups.ts). */
  group: number;
  stdoutPath?: string;
  stderrPath?: string;
  error?: string;
  /** A failed run's last lines of output, stdout and stderr in the order written. */
  outputTail?: string[];
}

/** The stable `--json` form: keys in this order, always present except the optional ones. */
export function jsonResults(entries: readonly Entry[]): JsonResult[] {
  const groups = groupNumbers(groupOutcomes(entries));
  return entries.map((e) => {
    const r: JsonResult = {
      image: e.image.ref,
      digest: e.digest ?? null,
      exitCode: e.exitCode,
      durationMs: Math.round(e.durationMs),
      verdict: verdictOf(e),
      group: groups.get(e) ?? 0,
    };
    if (e.stdoutPath !== undefined) r.stdoutPath = e.stdoutPath;
    if (e.stderrPath !== undefined) r.stderrPath = e.stderrPath;
    if (e.error !== undefined) r.error = e.error;
    if (r.verdict === 'failed' && e.outputTail !== undefined) r.outputTail = e.outputTail;
    return r;
  });
}
