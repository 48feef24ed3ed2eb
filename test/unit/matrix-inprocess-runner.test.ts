import { describe, expect, it } from 'vitest';
import { parseRunArgs, startInProcess } from '../../src/commands/matrix-inprocess.js';
import type { OutputSink } from '../../src/matrix/types.js';

function memorySink(): OutputSink & { out: string; err: string } {
  const s = {
    out: '',
    err: '',
    stdout(c: Buffer) {
      s.out += c.toString();
    },
    stderr(c: Buffer) {
      s.err += c.toString();
    },
    async close() {},
  };
  return s;
}

describe('a matrix run inside the matrix process', () => {
  it('reads the run options as `flux run` would, and never pulls', () => {
    const o = parseRunArgs(['--env=A=1', '-e', 'B=2', '--read-only', '--network=none', '--pull=always', '--memory=64m']);
    expect(o.env).toEqual(['A=1', 'B=2']);
    expect(o.readOnly).toBe(true);
    expect(o.network).toBe('none');
    expect(o.pull).toBe('never');
    expect(o.limits).toEqual({ memory: '64m' });
    expect(parseRunArgs([]).pull).toBe('never');
  });

  it('gives a refused run option as one sentence on the run\'s stderr and exit code 125', async () => {
    const sink = memorySink();
    const r = await startInProcess('busybox', sink, { runArgs: ['--security-opt=bogus'], command: ['true'] }).done;
    expect(r.exitCode).toBe(125);
    expect(sink.err).toBe('flux: unsupported --security-opt "bogus". flux supports --security-opt no-new-privileges and seccomp=unconfined.\n');
    expect(sink.out).toBe('');
  });

  it('gives an unknown option as one line, not a stack trace', async () => {
    const sink = memorySink();
    const r = await startInProcess('busybox', sink, { runArgs: ['--no-such-flag'], command: [] }).done;
    expect(r.exitCode).toBe(125);
    expect(sink.err).toMatch(/^flux: unknown option '--no-such-flag'\n$/);
  });
});
