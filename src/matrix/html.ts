/**
 * `flux matrix --html FILE`: one self-contained page for people who would rather look than read a
 * table. No network fetch of any kind (no external script, style, font or image): the page is
 * opened from disk, mailed, attached to CI runs. Everything an image printed or named is hostile
 * and goes through htmlText; <details> expands the output, so the page needs no script. Pure.
 */
import { escapeText } from '../escape.js';
import { countVerdicts, formatDuration } from './format.js';
import { groupOutcomes, describeOutcome, type OutcomeGroup } from './groups.js';
import { lineDiff } from './line-diff.js';
import { verdictOf, type Entry } from './types.js';

// What a browser would act on or reorder rather than show: C1 controls, Unicode line
// separators and bidirectional controls (a right-to-left override makes `exit 1` read `1 tixe`).
const REORDER = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Text safe in element content and in quoted attribute values, every reordering control shown escaped. */
export function htmlText(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`).replace(REORDER, (c) => escapeText(c));
}

export interface HtmlReportInfo {
  command: string;
  started: Date;
  durationMs: number;
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
code,pre{font:12px/1.35 ui-monospace,monospace}
pre{background:#f6f6f6;padding:.5em;margin:.3em 0;white-space:pre-wrap;word-break:break-all}
.verdict{font-weight:600;padding:.1em .5em;border-radius:3px;color:#fff}
.passed{background:#2e7d32}.failed{background:#c62828}.skipped{background:#757575}.interrupted{background:#ef6c00}
.counts span{margin-right:1em}.empty{display:block;color:#777}.error{color:#c62828}
.group{border:1px solid #ddd;border-radius:4px;padding:.5em 1em;margin:.6em 0}
.diff .added{background:#e6ffec;display:block}.diff .removed{background:#ffebe9;display:block}.diff .same{display:block;color:#555}
`;

function shortDigest(d: string | undefined): string {
  if (!d) return '-';
  const i = d.indexOf(':');
  return `${d.slice(0, i + 1)}${d.slice(i + 1, i + 13)}`;
}

function tail(label: string, lines: readonly string[] | undefined): string {
  if (!lines || lines.length === 0) return `<span class="empty">no ${label}</span>`;
  return `<details><summary>${label} (last ${lines.length} ${lines.length === 1 ? 'line' : 'lines'})</summary><pre>${htmlText(lines.join('\n'))}</pre></details>`;
}

function row(e: Entry, group: number): string {
  const v = verdictOf(e);
  const duration = e.durationMs === 0 && (v === 'skipped' || e.error !== undefined) ? '-' : formatDuration(e.durationMs);
  const err = e.error !== undefined ? `<div class="error">${htmlText(e.error)}</div>` : '';
  // An image that never ran has no output to show, only why.
  const output = e.stdoutDigest === undefined ? '' : `${tail('stdout', e.stdoutTail)}${tail('stderr', e.stderrTail)}`;
  return (
    `<tr class="image" data-verdict="${v}" data-group="${group}">` +
    `<td class="ref"><code>${htmlText(e.image.ref)}</code></td>` +
    `<td class="verdict-cell"><span class="verdict ${v}">${v}</span></td>` +
    `<td class="digest" title="${htmlText(e.digest ?? '')}"><code>${htmlText(shortDigest(e.digest))}</code></td>` +
    `<td class="exit">${e.exitCode === null ? '-' : e.exitCode}</td>` +
    `<td class="duration">${duration}</td>` +
    `<td class="group-no"><a href="#group-${group}">${group}</a></td>` +
    `<td class="output">${err}${output}</td></tr>`
  );
}

function diffBlock(g: OutcomeGroup, largest: OutcomeGroup): string {
  if (g.stdoutDigest === undefined || largest.stdoutDigest === undefined) return '';
  if (g.stdoutDigest === largest.stdoutDigest) return `<p class="diff-note">Same stdout as group ${largest.number}.</p>`;
  const ops = lineDiff(largest.entries[0]!.stdoutTail ?? [], g.entries[0]!.stdoutTail ?? []);
  const mark = { same: ' ', removed: '-', added: '+' } as const;
  const body = ops.map((o) => `<span class="${o.kind}">${mark[o.kind]} ${htmlText(o.line)}</span>`).join('');
  return (
    `<div class="diff-block"><p>stdout against group ${largest.number} (<code>-</code> group ${largest.number}, <code>+</code> this group):</p>` +
    `<pre class="diff">${body}</pre></div>`
  );
}

function groupSection(g: OutcomeGroup, largest: OutcomeGroup): string {
  const n = g.entries.length;
  const title = n === 1 ? `1 image: ${describeOutcome(g)}` : `${n} images behave alike: ${describeOutcome(g)}`;
  const names = g.entries.map((e) => `<code>${htmlText(e.image.ref)}</code>`).join(', ');
  return (
    `<section class="group" id="group-${g.number}" data-group="${g.number}" data-size="${n}">` +
    `<h3>Group ${g.number}: ${htmlText(title)}</h3><p class="members">${names}</p>` +
    `${g === largest ? '' : diffBlock(g, largest)}</section>`
  );
}

export function htmlReport(entries: readonly Entry[], info: HtmlReportInfo): string {
  const groups = groupOutcomes(entries);
  const largest = groups[0];
  const numbers = new Map<Entry, number>();
  for (const g of groups) for (const e of g.entries) numbers.set(e, g.number);
  const c = countVerdicts(entries);
  const counts = (['passed', 'failed', 'skipped', 'interrupted'] as const)
    .filter((v) => v !== 'interrupted' || c.interrupted > 0)
    .map((v) => `<span class="count" data-verdict="${v}"><span class="verdict ${v}">${c[v]}</span> ${v}</span>`)
    .join('');
  const outcomes = groups.length === 1 ? 'All images behave alike.' : `${groups.length} outcomes.`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>flux matrix: ${htmlText(info.command)}</title>
<style>${STYLE}</style></head><body>
<h1>flux matrix</h1>
<p>Command: <code>${htmlText(info.command)}</code><br>Started ${htmlText(info.started.toISOString())}, took ${formatDuration(info.durationMs)}.</p>
<p class="counts">${counts}</p>
<table id="results"><thead><tr><th>Image</th><th>Verdict</th><th>Digest</th><th>Exit</th><th>Duration</th><th>Group</th><th>Output</th></tr></thead>
<tbody>${entries.map((e) => row(e, numbers.get(e) ?? 0)).join('\n')}</tbody></table>
<h2>By outcome</h2>
<p class="outcomes">${outcomes} Images whose runs ended with the same exit code and the same stdout are one group.</p>
${largest === undefined ? '' : groups.map((g) => groupSection(g, largest)).join('\n')}
</body></html>
`;
}
