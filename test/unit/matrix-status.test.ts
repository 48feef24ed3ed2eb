import { describe, expect, it } from 'vitest';
import { failureReport } from '../../src/matrix/failure-report.js';
import { createStatus } from '../../src/matrix/status.js';
import { collectImages } from '../../src/matrix/images.js';
import type { Entry } from '../../src/matrix/types.js';

function fakeStream(tty: boolean): NodeJS.WriteStream & { text: string } {
  const s = { text: '', isTTY: tty, rows: 30, columns: 100, write(t: string) {
    s.text += t;
    return true;
  } };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

function entries(): Entry[] {
  return collectImages(['busybox', 'debian:12']).map((image) => ({ image, phase: 'queued', exitCode: null, phaseSince: 0, durationMs: 0 }));
}

describe('matrix status lines', () => {
  it('without a terminal: one line per change of state', () => {
    const err = fakeStream(false);
    const es = entries();
    const st = createStatus({ entries: es, stderr: err, live: false, colour: false, now: () => 1500 });
    es[0]!.phase = 'running';
    st.change(es[0]!);
    es[0]!.phase = 'failed';
    es[0]!.exitCode = 2;
    es[0]!.durationMs = 1234;
    st.change(es[0]!);
    st.finish();
    expect(err.text).toBe('[busybox] running\n[busybox] failed (1.2s, exit 2)\n');
  });

  it('escapes image data in the failure report: an error quoting an Entrypoint cannot forge a line or drive the terminal', () => {
    const es = entries();
    Object.assign(es[0]!, { phase: 'failed', exitCode: 127, error: '/bin/x\n[debian:12] passed\u001b[2J: executable file not found in $PATH.' });
    expect(failureReport(es)).toBe('\n--- busybox: last line of output ---\nflux: /bin/x\\n[debian:12] passed\\x1b[2J: executable file not found in $PATH.\n');
  });

  it('an image whose pull failed is said not to have run, its error left to the end of the matrix', () => {
    const err = fakeStream(false);
    const es = entries();
    const st = createStatus({ entries: es, stderr: err, live: false, colour: false, now: () => 0 });
    Object.assign(es[1]!, { phase: 'failed', exitCode: null, error: 'no such image debian:12.', note: 'not run: the pull failed' });
    st.change(es[1]!);
    expect(err.text).toBe('[debian:12] failed (not run: the pull failed)\n');
  });

  it('on a terminal: one line per image, redrawn in place, output written above it', () => {
    const err = fakeStream(true);
    const out = fakeStream(true);
    const es = entries();
    let now = 0;
    const st = createStatus({ entries: es, stderr: err, live: true, colour: false, now: () => now });
    expect(err.text).toBe('busybox    queued   \u001b[K\ndebian:12  queued   \u001b[K\n\u001b[J');
    err.text = '';
    es[1]!.phase = 'running';
    es[1]!.phaseSince = 0;
    now = 2500;
    st.change(es[1]!);
    expect(err.text).toBe('\u001b[2Fbusybox    queued   \u001b[K\ndebian:12  running  2.5s\u001b[K\n\u001b[J');
    err.text = '';
    st.write(out, '[debian:12] hello\n');
    expect(err.text.startsWith('\u001b[2F\u001b[J')).toBe(true);
    expect(out.text).toBe('[debian:12] hello\n');
    st.finish();
  });
});
