/**
 * flux.matrix() refuses what `flux matrix` refuses, before any image is looked up: run options
 * that make no sense for many runs with captured output (a plain JavaScript caller can pass them
 * though the type leaves them out), and report paths that could only fail once every run is over.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runMatrix, type MatrixOptions } from '../../src/library/matrix-run.js';

const store = mkdtempSync(join(tmpdir(), 'flux-matrix-refusals-'));
afterAll(() => rmSync(store, { recursive: true, force: true }));

const matrix = (extra: Record<string, unknown>) => runMatrix({ images: ['busybox:latest'], command: ['true'], ...extra } as MatrixOptions, { store: join(store, 'store') });

describe('flux.matrix() refuses before anything runs', () => {
  it.each([
    ['tty', true],
    // The host's stdin cannot be every run's at once (flux matrix refuses -i).
    ['stdin', 'inherit'],
    ['ports', ['8080:80']],
    ['publishAll', true],
    ['preserveFds', 1],
    ['networkAliases', ['web']],
  ])('%s', async (option, value) => {
    await expect(matrix({ [option]: value })).rejects.toMatchObject({
      code: 'MATRIX_OPTION',
      message: `${option} cannot be used with matrix(): runs are many, in parallel, with captured output.`,
      exitCode: 125,
    });
  });

  it.each([
    ['junit', 'MATRIX_JUNIT', 'JUnit report'],
    ['html', 'MATRIX_HTML', 'HTML report'],
    ['lock', 'MATRIX_LOCK', 'lock file'],
  ])('a %s path in a directory that does not exist', async (option, code, what) => {
    const path = join(store, 'no-such-dir', 'out');
    await expect(matrix({ [option]: path })).rejects.toMatchObject({
      code,
      message: `cannot write the ${what} ${path}: its directory ${join(store, 'no-such-dir')} does not exist.`,
      exitCode: 125,
    });
  });

  it('with the same options as flux matrix refuses as flags', async () => {
    const { NOT_FOR_MANY } = await import('../../src/library/matrix-refused.js');
    const { buildProgram } = await import('../../src/cli/main.js');
    const matrixCmd = buildProgram('matrix').commands.find((c) => c.name() === 'matrix')!;
    const runCmd = buildProgram('run').commands.find((c) => c.name() === 'run')!;
    // Every refused flag is one of run's, hidden from matrix's help.
    for (const { flag } of NOT_FOR_MANY) {
      expect(runCmd.options.some((o) => o.long === flag), flag).toBe(true);
      expect(matrixCmd.options.find((o) => o.long === flag)?.hidden, flag).toBe(true);
    }
  });

  it('and lets harmless values of those options through to the run', async () => {
    // Off and empty are what the type's absence means: no refusal (the run then fails on its own:
    // no such image in an empty store, with pulls forbidden).
    const records = await matrix({ tty: false, stdin: 'ignore', ports: [], networkAliases: [], pull: 'never' });
    expect(records.records.map((r) => [r.verdict, r.exitCode])).toEqual([['failed', null]]);
  });
});
