/**
 * What the matrix keeps of every run whatever its sinks: a digest of all of stdout (runs with the
 * same exit code and the same digest are one outcome, see groups.ts) and each stream's last lines
 * on its own (the HTML report shows them and diffs one outcome's stdout against another's).
 */
import type { Hash } from 'node:crypto';
import { createRequire } from 'node:module';
import { OutputTail } from './output-tail.js';
import type { Entry, OutputSink } from './types.js';

/**
 * node:crypto is loaded when a run first prints to stdout, not with the matrix: its load was some
 * 4 ms of every matrix's start, and a run that prints nothing needs no hashing at all, its digest
 * being that of no bytes.
 */
const load = createRequire(import.meta.url);
let crypto: typeof import('node:crypto') | undefined;
const newHash = (): Hash => (crypto ??= load('node:crypto') as typeof import('node:crypto')).createHash('sha256');
export const EMPTY_STDOUT_DIGEST = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** stdout lines kept for showing and diffing; stderr lines kept for showing. */
export const STDOUT_LINES = 200;
export const STDERR_LINES = 50;

export function captureOutput(entry: Entry, sink: OutputSink): OutputSink {
  let hash: Hash | undefined;
  const out = new OutputTail(STDOUT_LINES);
  const err = new OutputTail(STDERR_LINES);
  return {
    stdout(chunk) {
      (hash ??= newHash()).update(chunk);
      out.stdout(chunk);
      sink.stdout(chunk);
    },
    stderr(chunk) {
      err.stderr(chunk);
      sink.stderr(chunk);
    },
    async close(exitCode, error) {
      entry.stdoutDigest = hash === undefined ? EMPTY_STDOUT_DIGEST : `sha256:${hash.digest('hex')}`;
      entry.stdoutTail = out.lines();
      entry.stderrTail = err.lines();
      if (error !== undefined) entry.stderrTail.push(`flux: ${error}`);
      await sink.close(exitCode, error);
    },
  };
}
