import { describe, expect, it } from 'vitest';
import { OutputTail, TAIL_LINE_CHARS } from '../../src/matrix/output-tail.js';
import { SinkFactory } from '../../src/matrix/output-sink.js';
import { failureReport } from '../../src/matrix/failure-report.js';
import { jsonResults } from '../../src/matrix/format.js';
import { collectImages } from '../../src/matrix/images.js';
import type { Entry } from '../../src/matrix/types.js';

const b = (s: string): Buffer => Buffer.from(s);

function entry(ref: string, phase: Entry['phase'], exitCode: number | null): Entry {
  return { image: collectImages([ref])[0]!, phase, exitCode, phaseSince: 0, durationMs: 10 };
}

describe('the last lines of a run\'s output', () => {
  it('interleaves stdout and stderr in the order written, keeps the last lines, and cleans them for reading', () => {
    const t = new OutputTail(3);
    t.stdout(b('checking for gcc... gcc\n'));
    t.stderr(b('warning: x\n'));
    t.stdout(b('Please use --static\n** ./configure aborting.'));
    t.stderr(b('\u001b[31mred\u001b[0m 50%\r100%\n'));
    expect(t.lines()).toEqual(['Please use --static', '100%', '** ./configure aborting.']);
    const long = new OutputTail();
    long.stdout(b('x'.repeat(TAIL_LINE_CHARS + 10)));
    expect(long.lines()).toEqual([`${'x'.repeat(TAIL_LINE_CHARS)}…`]);
  });

  it('drops the one-character CSI and the controls that reorder or break what a reader sees', () => {
    const t = new OutputTail();
    // U+009B starts a sequence on some terminals as ESC [ does; U+202E shows what follows backwards.
    t.stdout(b('a\u009b2Jb \u202eevil\u202c \u2028c\ttab\u0085\n'));
    expect(t.lines()).toEqual(['a2Jb evil c\ttab']);
  });

  it('explains every failed run, one that wrote only to stdout too, in the table output and in JSON', async () => {
    const failed = entry('debian:12', 'failed', 1);
    const passed = entry('busybox', 'passed', 0);
    const sinks = new SinkFactory({ keep: false });
    for (const e of [failed, passed]) {
      const s = sinks.create(e);
      s.stdout(b('checking for gcc... gcc\n** ./configure aborting.\n'));
      await s.close(e.exitCode);
    }
    const pull = entry('alpine', 'failed', 125);
    pull.error = 'no such image alpine.';
    await sinks.create(pull).close(125, pull.error);

    expect(failureReport([passed, failed, pull])).toBe(
      '\n--- debian:12: last 2 lines of output ---\nchecking for gcc... gcc\n** ./configure aborting.\n' +
        '--- alpine: last line of output ---\nflux: no such image alpine.\n',
    );
    const json = jsonResults([passed, failed]);
    expect(json[0]!.outputTail).toBeUndefined();
    expect(json[1]!.outputTail).toEqual(['checking for gcc... gcc', '** ./configure aborting.']);
    expect(failureReport([passed])).toBe('');
  });
});
