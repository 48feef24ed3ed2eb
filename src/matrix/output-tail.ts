/**
 * The last lines of a run's output, stdout and stderr together in the order they were written:
 * a failure is often explained only on stdout (a `./configure` that stops with a message there),
 * so the end of stderr alone is not enough.
 */
import { LineSplitter } from './line-splitter.js';

/** Lines kept per run. */
export const TAIL_LINES = 20;
/** A longer line is cut: a tail is for reading, and a run may print megabytes on one line. */
export const TAIL_LINE_CHARS = 400;

// Terminal colour and cursor sequences, and other control characters, would garble the report:
// C0 and C1 controls (U+009B is a one-character CSI for some terminals), and the Unicode line
// separators and bidirectional controls that reorder what a reader sees (as src/escape.ts).
// eslint-disable-next-line no-control-regex
const CONTROL = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b[@-Z\\-_]|[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export class OutputTail {
  private readonly kept: string[] = [];
  private readonly out: LineSplitter;
  private readonly err: LineSplitter;

  constructor(private readonly limit = TAIL_LINES) {
    this.out = new LineSplitter((l) => this.add(l));
    this.err = new LineSplitter((l) => this.add(l));
  }

  stdout(chunk: Buffer): void {
    this.out.push(chunk);
  }

  stderr(chunk: Buffer): void {
    this.err.push(chunk);
  }

  /** The lines so far, the unfinished last line of each stream included. */
  lines(): string[] {
    this.out.end();
    this.err.end();
    return [...this.kept];
  }

  private add(line: string): void {
    // A progress line rewritten with \r shows as its last state.
    let l = line.slice(line.lastIndexOf('\r') + 1).replace(CONTROL, '');
    if (l.length > TAIL_LINE_CHARS) l = `${l.slice(0, TAIL_LINE_CHARS)}…`;
    this.kept.push(l);
    if (this.kept.length > this.limit) this.kept.shift();
  }
}
