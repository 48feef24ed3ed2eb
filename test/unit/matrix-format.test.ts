import { describe, expect, it } from 'vitest';
import { formatDuration, jsonResults, summaryTable } from '../../src/matrix/format.js';
import { junitSuiteName, junitXml, xmlText } from '../../src/matrix/junit.js';
import { safeNames } from '../../src/matrix/results-dir.js';
import { BoundedBuffer, LineSplitter } from '../../src/matrix/output-sink.js';
import { MAX_LINE } from '../../src/matrix/line-splitter.js';
import { collectImages } from '../../src/matrix/images.js';
import type { Entry } from '../../src/matrix/types.js';
import { findAll, parseXml } from '../support/xml-parser.js';

const D = `sha256:${'0123456789ab'.repeat(5)}cdef`;

function entries(): Entry[] {
  const [a, b, c] = collectImages(['busybox', 'debian:12', 'alpine']);
  return [
    { image: a!, phase: 'passed', digest: D, exitCode: 0, phaseSince: 0, durationMs: 312 },
    { image: b!, phase: 'failed', digest: D, exitCode: 1, phaseSince: 0, durationMs: 1530 },
    { image: c!, phase: 'skipped', exitCode: null, phaseSince: 0, durationMs: 0 },
  ];
}

describe('summary and JSON', () => {
  it('prints one aligned row per image with digest, exit, duration and verdict', () => {
    const t = summaryTable(entries()).split('\n');
    expect(t[0]).toMatch(/^IMAGE\s+DIGEST\s+EXIT\s+DURATION\s+VERDICT$/);
    expect(t[1]).toMatch(/^busybox\s+sha256:0123456789ab\s+0\s+312ms\s+passed$/);
    expect(t[2]).toMatch(/^debian:12\s+sha256:0123456789ab\s+1\s+1\.5s\s+failed$/);
    expect(t[3]).toMatch(/^alpine\s+-\s+-\s+-\s+skipped$/);
    expect(t[1]!.indexOf('sha256')).toBe(t[0]!.indexOf('DIGEST'));
    expect(t).toContain('1 passed, 1 failed, 1 skipped');
  });

  it('escapes control characters of an image name in the table', () => {
    const es = entries();
    es[0]!.image = { ...es[0]!.image, ref: 'evil\u001b[2J\nname' };
    const t = summaryTable(es);
    expect(t).toContain('evil\\x1b[2J\\nname');
    expect(t).not.toContain('\u001b');
  });

  it('gives stable JSON with the full digest', () => {
    const j = jsonResults(entries());
    expect(j[0]).toEqual({ image: 'busybox', digest: D, exitCode: 0, durationMs: 312, verdict: 'passed', group: 1 });
    expect(j[2]).toEqual({ image: 'alpine', digest: null, exitCode: null, durationMs: 0, verdict: 'skipped', group: 3 });
    expect(Object.keys(j[1]!)).toEqual(['image', 'digest', 'exitCode', 'durationMs', 'verdict', 'group']);
  });

  it('formats durations for people', () => {
    expect(formatDuration(5)).toBe('5ms');
    expect(formatDuration(61_000)).toBe('1m01s');
  });
});

describe('JUnit XML', () => {
  it('has one testcase per image in one "flux matrix" suite, with failure, skipped and escaped output', () => {
    const nasty = 'a < b && c > d "q" \u0000\u0007\u001b[31mred\u001b[0m \ud800 ok \u{1F600}\n';
    const [p, f, s] = entries();
    const xml = junitXml(
      [
        { entry: p!, stdout: 'fine\n', stderr: '' },
        { entry: f!, stdout: nasty, stderr: 'grep: no match\n' },
        { entry: s!, stdout: '', stderr: '' },
      ],
      { timestamp: new Date('2026-01-02T03:04:05.678Z'), durationMs: 2000, command: 'grep -q "x" /etc/os-release' },
    );
    const root = parseXml(xml);
    const suites = findAll(root, 'testsuite');
    expect(suites).toHaveLength(1);
    expect(suites[0]!.attrs).toMatchObject({ name: 'flux matrix', tests: '3', failures: '1', skipped: '1' });
    const cases = findAll(root, 'testcase');
    expect(cases.map((c) => c.attrs.name)).toEqual(['busybox', 'debian:12', 'alpine']);
    expect(findAll(cases[0]!, 'failure')).toHaveLength(0);
    const failure = findAll(cases[1]!, 'failure')[0]!;
    expect(failure.attrs.message).toBe('exit code 1');
    expect(failure.text).toContain('exit code 1');
    expect(findAll(cases[1]!, 'system-out')[0]!.text).toBe('a < b && c > d "q" red  ok \u{1F600}\n');
    expect(findAll(cases[1]!, 'system-err')[0]!.text).toBe('grep: no match\n');
    expect(findAll(cases[2]!, 'skipped')).toHaveLength(1);
    expect(cases[1]!.attrs.time).toBe('1.530');
  });

  it('names the suite and the class of each case after the shard, so merged shard reports keep every case', () => {
    const [p, f] = entries();
    const names = [1, 2].map((index) => {
      const xml = junitXml([{ entry: index === 1 ? p! : f!, stdout: '', stderr: '' }], {
        timestamp: new Date(0),
        durationMs: 1,
        command: 'true',
        suite: junitSuiteName({ index, total: 2 }),
      });
      const root = parseXml(xml);
      return [findAll(root, 'testsuite')[0]!.attrs.name, findAll(root, 'testcase')[0]!.attrs.classname];
    });
    expect(names).toEqual([
      ['flux matrix shard 1/2', 'flux matrix shard 1/2'],
      ['flux matrix shard 2/2', 'flux matrix shard 2/2'],
    ]);
    expect(junitSuiteName()).toBe('flux matrix');
  });

  it('reports runs a signal interrupted as interrupted: in the counts, and as a JUnit <error>', () => {
    const [p, f, s] = entries();
    f!.phase = 'interrupted';
    f!.exitCode = 137;
    expect(summaryTable([p!, f!, s!])).toContain('1 passed, 0 failed, 1 skipped, 1 interrupted\n');
    expect(summaryTable([p!, f!, s!])).toMatch(/^debian:12\s.*\s137\s.*interrupted$/m);
    const root = parseXml(junitXml([{ entry: f!, stdout: '', stderr: '' }], { timestamp: new Date(0), durationMs: 1, command: 'true' }));
    expect(findAll(root, 'testsuite')[0]!.attrs).toMatchObject({ errors: '1', failures: '0' });
    expect(findAll(findAll(root, 'testcase')[0]!, 'error')[0]!.attrs.type).toBe('interrupted');
  });

  it('escapes markup', () => {
    expect(xmlText('<a>&</a>')).toBe('&lt;a&gt;&amp;&lt;/a&gt;');
  });
});

describe('results directory names', () => {
  it('are safe, unique, and readable', () => {
    const n = safeNames(['127.0.0.1:5000/busybox:latest', 'debian:12', 'a/b', 'a_b', '../../etc', 'x@sha256:' + 'f'.repeat(64)]);
    expect(n[0]).toBe('127.0.0.1_5000_busybox_latest');
    expect(n[1]).toBe('debian_12');
    expect(n[2]).not.toBe(n[3]);
    expect(n[2]).toMatch(/^a_b-[0-9a-f]{8}$/);
    expect(n[4]).toBe('etc');
    for (const x of n) expect(x).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
  });
});

describe('output capture', () => {
  it('keeps head and tail of long output within the limit', () => {
    const b = new BoundedBuffer(100);
    b.push(Buffer.from('H'.repeat(50)));
    b.push(Buffer.from('x'.repeat(500)));
    b.push(Buffer.from('T'.repeat(50)));
    expect(b.text()).toBe(`${'H'.repeat(50)}\n[… 500 bytes not kept …]\n${'T'.repeat(50)}`);
  });

  it('splits lines across chunks and multi-byte characters', () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l));
    const bytes = Buffer.from('one\r\ntwo ü\nthr');
    s.push(bytes.subarray(0, 9));
    s.push(bytes.subarray(9));
    s.push(Buffer.from('ee'));
    s.end();
    expect(lines).toEqual(['one', 'two ü', 'three']);
  });

  it('gives a line without end in pieces of MAX_LINE: memory stays bounded', () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l));
    // 1 MiB without a newline, a KiB at a time, then an ordinary line.
    for (let i = 0; i < 1024; i++) s.push(Buffer.from('x'.repeat(1024)));
    s.push(Buffer.from('\nok\n'));
    s.end();
    expect(lines.slice(0, -1).every((l) => l.length <= MAX_LINE)).toBe(true);
    expect(lines.slice(0, -1).join('').length).toBe(1024 * 1024);
    expect(lines.at(-1)).toBe('ok');
  });
});
