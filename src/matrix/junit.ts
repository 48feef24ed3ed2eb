/**
 * JUnit XML for CI systems (GitLab, Jenkins, GitHub test reporters): one <testsuite name="flux
 * matrix"> (with --shard, "flux matrix shard K/N"), one <testcase> per image, <failure> carrying the exit code, <skipped/> for images
 * that did not run, and the run's output in <system-out>/<system-err>. Pure.
 */
import { countVerdicts } from './format.js';
import { verdictOf, type Entry } from './types.js';
import type { Shard } from './shard.js';

/**
 * The suite's name, also each case's class name. CI systems merge the reports of all shards and
 * key suites and cases by these names: named alike, the shards' suites would fold into one and
 * cases could be dropped as duplicates.
 */
export function junitSuiteName(shard?: Shard): string {
  return shard === undefined ? 'flux matrix' : `flux matrix shard ${shard.index}/${shard.total}`;
}

// XML 1.0 forbids most control characters and lone surrogates even as references.
// eslint-disable-next-line no-control-regex
const INVALID_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
// Terminal colour and cursor sequences: their ESC is invalid XML and the rest would be noise.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b[@-Z\\-_]/g;

export function xmlText(s: string): string {
  return s
    .replace(ANSI, '')
    .replace(INVALID_XML, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

export function xmlAttr(s: string): string {
  return xmlText(s).replace(/"/g, '&quot;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

export interface JunitCase {
  entry: Entry;
  stdout: string;
  stderr: string;
}

export function junitXml(cases: readonly JunitCase[], opts: { timestamp: Date; durationMs: number; command: string; suite?: string }): string {
  const entries = cases.map((c) => c.entry);
  const n = countVerdicts(entries);
  const secs = (ms: number): string => (ms / 1000).toFixed(3);
  const suite = xmlAttr(opts.suite ?? junitSuiteName());
  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  const attrs = `tests="${cases.length}" failures="${n.failed}" errors="${n.interrupted}" skipped="${n.skipped}" time="${secs(opts.durationMs)}"`;
  out.push(`<testsuites name="${suite}" ${attrs}>`);
  out.push(`  <testsuite name="${suite}" ${attrs} timestamp="${opts.timestamp.toISOString().replace(/\.\d+Z$/, '')}">`);
  out.push(`    <properties><property name="command" value="${xmlAttr(opts.command)}"/></properties>`);
  for (const { entry: e, stdout, stderr } of cases) {
    const verdict = verdictOf(e);
    out.push(`    <testcase classname="${suite}" name="${xmlAttr(e.image.ref)}" time="${secs(e.durationMs)}">`);
    if (e.digest) out.push(`      <properties><property name="digest" value="${xmlAttr(e.digest)}"/></properties>`);
    if (verdict === 'failed') {
      const msg = e.error !== undefined ? e.error : `exit code ${e.exitCode}`;
      const type = e.error !== undefined ? 'flux-error' : 'exit-code';
      out.push(`      <failure message="${xmlAttr(msg)}" type="${type}">exit code ${e.exitCode ?? 'none'}</failure>`);
    } else if (verdict === 'interrupted') {
      // Started and stopped from outside: neither a pass nor the image's failure, and not "not run".
      out.push(`      <error message="interrupted before it finished" type="interrupted">exit code ${e.exitCode ?? 'none'}</error>`);
    } else if (verdict === 'skipped') {
      out.push(`      <skipped message="${xmlAttr(e.note ?? 'not run: the matrix was stopped')}"/>`);
    }
    if (stdout !== '') out.push(`      <system-out>${xmlText(stdout)}</system-out>`);
    if (stderr !== '') out.push(`      <system-err>${xmlText(stderr)}</system-err>`);
    out.push('    </testcase>');
  }
  out.push('  </testsuite>');
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}
