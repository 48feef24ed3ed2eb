/**
 * The files a matrix writes when asked to: the results directory, results.json, the JUnit and
 * HTML reports. A CI system reading a report never sees half of it: each is written beside its
 * path and renamed into place.
 */
import { accessSync, constants, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { FluxError } from '../errors.js';

/** Makes `dir` (--results) and returns it absolute. */
export function prepareResultsDir(dir: string): string {
  const abs = resolve(dir);
  try {
    mkdirSync(abs, { recursive: true });
  } catch (err) {
    throw new FluxError('MATRIX_RESULTS', `cannot create the results directory ${abs}: ${(err as Error).message}.`, {
      hint: 'Give --results a directory you can write to.',
      exitCode: 125,
    });
  }
  return abs;
}

const REPORTS = {
  junit: { code: 'MATRIX_JUNIT', flag: '--junit', what: 'JUnit report' },
  html: { code: 'MATRIX_HTML', flag: '--html', what: 'HTML report' },
} as const;

/** Writes a report whole, or says which path could not be written. */
export function writeReport(path: string, text: string, kind: keyof typeof REPORTS): void {
  const r = REPORTS[kind];
  try {
    atomicWrite(path, text);
  } catch (err) {
    throw new FluxError(r.code, `cannot write the ${r.what} ${path}: ${(err as Error).message}.`, {
      hint: `Give ${r.flag} a path in a directory you can write to.`,
    });
  }
}

/**
 * Refuses, before any image runs, a report path whose directory cannot be written: found only
 * once the matrix is over, the whole run would have been for nothing.
 */
export function checkReportPath(path: string, kind: keyof typeof REPORTS | 'lock'): void {
  const r = kind === 'lock' ? { code: 'MATRIX_LOCK', flag: '--lock', what: 'lock file' } : REPORTS[kind];
  const dir = dirname(resolve(path));
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `its directory ${dir} does not exist` : `its directory ${dir} is not writable`;
    throw new FluxError(r.code, `cannot write the ${r.what} ${path}: ${why}.`, { hint: `Give ${r.flag} a path in a directory you can write to.`, exitCode: 125 });
  }
}

export function atomicWrite(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** The command as one would type it, for reports. */
export function commandLine(command: readonly string[]): string {
  return command.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}
