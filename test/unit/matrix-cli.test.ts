import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { MatrixInput } from '../../src/commands/matrix.js';

const calls: MatrixInput[] = [];
vi.mock('../../src/commands/matrix.js', () => ({
  matrixCommand: async (input: MatrixInput) => {
    calls.push(input);
    return 0;
  },
}));

const { buildProgram, reportError } = await import('../../src/cli/main.js');

async function parse(args: string[]): Promise<MatrixInput> {
  calls.length = 0;
  await buildProgram().parseAsync(['matrix', ...args], { from: 'user' });
  expect(calls).toHaveLength(1);
  return calls[0]!;
}

describe('flux matrix command line', () => {
  beforeEach(() => {
    process.exitCode = undefined;
  });

  it('describes every command in `flux --help` starting with a capital, matrix too', () => {
    const help = buildProgram().helpInformation();
    // commander's own `help` line aside.
    const lines = help.slice(help.indexOf('Commands:')).split('\n').slice(1).filter((l) => /^\s{2}\S/.test(l) && !l.trim().startsWith('help'));
    expect(lines.some((l) => l.trim().startsWith('matrix'))).toBe(true);
    for (const l of lines) {
      const text = l.trim().split(/\s{2,}/)[1] ?? '';
      expect(text, l).toMatch(/^[A-Z]/);
    }
  });

  it('takes images before -- and the command after it, even with --image', async () => {
    const a = await parse(['busybox,debian', '--image', 'alpine', '-j', '3', '--', 'grep', '-q', '--', 'x']);
    expect(a.lists).toEqual(['busybox,debian']);
    expect(a.images).toEqual(['alpine']);
    expect(a.jobs).toBe(3);
    expect(a.command).toEqual(['grep', '-q', '--', 'x']);
    const b = await parse(['--image', 'alpine', '--', 'echo', 'hi']);
    expect(b.lists).toEqual([]);
    expect(b.command).toEqual(['echo', 'hi']);
  });

  it('passes run options on to each run as typed, and pull options to the pulls', async () => {
    const a = await parse(['-e', 'A=1', 'busybox', '--env', 'B=2', '--read-only', '--platform', 'linux/amd64', '--pull', 'always', '--insecure', '--', 'true']);
    expect(a.runArgs).toEqual(['--env=A=1', '--env=B=2', '--read-only', '--platform=linux/amd64']);
    expect(a).toMatchObject({ pull: 'always', platform: 'linux/amd64', insecure: true });
  });

  it('reads the matrix options', async () => {
    const a = await parse(['x', '--fail-fast', '--output', 'prefix', '--results', 'r', '--json', '--junit', 'j.xml', '--html', 'r.html', '--shard', '1/2']);
    expect(a).toMatchObject({ failFast: true, output: 'prefix', results: 'r', json: true, junit: 'j.xml', html: 'r.html', shard: '1/2', command: [] });
    expect(a.runArgs).toEqual([]);
  });

  it('refuses a bad -j with one sentence', async () => {
    const err = await buildProgram()
      .parseAsync(['matrix', 'x', '-j', '0'], { from: 'user' })
      .catch((e: unknown) => e);
    expect(String((err as Error).message)).toMatch(/not a valid number of parallel runs/);
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(reportError(err)).toBe(125);
    write.mockRestore();
  });

  it('refuses options that need a terminal, a port or fds of their own', async () => {
    for (const flag of [['-t'], ['-i'], ['-p', '8080:80'], ['-P'], ['--preserve-fds', '1']]) {
      const err = await buildProgram()
        .parseAsync(['matrix', 'x', ...flag, '--', 'true'], { from: 'user' })
        .catch((e: unknown) => e);
      expect(String((err as Error).message), flag.join(' ')).toMatch(/cannot be used with flux matrix/);
    }
  });
});
