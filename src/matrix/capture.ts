/**
 * What the matrix keeps of every run whatever its sinks: a digest of all of stdout (runs with the
 * same exit code and the same digest are one outcome, see groups.ts) and each stream's last lines
 * on its own (the HTML report shows them and diffs one outcome's stdout against another's).
 */
import { createHash } from 'node:crypto';
import { OutputTail } from './output-tail.js';
import type { Entry, OutputSink } from './types.js';

/** stdout lines kept for showing and diffing; stderr lines kept for showing. */
export const STDOUT_LINES = 200;
export const STDERR_LINES = 50;

export function captureOutput(entry: Entry, sink: OutputSink): OutputSink {
  const hash = createHash('sha256');
  const out = new OutputTail(STDOUT_LINES);
  const err = new OutputTail(STDERR_LINES);
  return {
    stdout(chunk) {
      hash.update(chunk);
      out.stdout(chunk);
      sink.stdout(chunk);
    },
    stderr(chunk) {
      err.stderr(chunk);
      sink.stderr(chunk);
    },
    async close(exitCode, error) {
      entry.stdoutDigest = `sha256:${hash.digest('hex')}`;
      entry.stdoutTail = out.lines();
      entry.stderrTail = err.lines();
      if (error !== undefined) entry.stderrTail.push(`flux: ${error}`);
      await sink.close(exitCode, error);
    },
  };
}
