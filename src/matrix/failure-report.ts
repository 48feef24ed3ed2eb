/**
 * The failed runs explained, below the summary table: the last lines of each one's output, both
 * streams in the order written, so a failure never goes unexplained, whether it said why on
 * stdout or stderr, and whether or not its output was also kept in files. Pure.
 */
import { escapeText } from '../escape.js';
import { verdictOf, type Entry } from './types.js';

export function failureReport(entries: readonly Entry[]): string {
  let out = '';
  for (const e of entries) {
    if (verdictOf(e) !== 'failed') continue;
    const lines = e.outputTail ?? (e.error !== undefined ? [`flux: ${escapeText(e.error)}`] : []);
    if (lines.length === 0) {
      out += `--- ${escapeText(e.image.ref)}: failed with no output ---\n`;
      continue;
    }
    out += `--- ${escapeText(e.image.ref)}: last ${lines.length === 1 ? 'line' : `${lines.length} lines`} of output ---\n${lines.join('\n')}\n`;
  }
  return out === '' ? '' : `\n${out}`;
}
