/** What the matrix knows about each image, from queued to its verdict. */
import type { MatrixImage } from './images.js';

export type Phase = 'queued' | 'pulling' | 'waiting' | 'running' | 'passed' | 'failed' | 'skipped' | 'interrupted';
/** `interrupted`: the run was under way when a signal stopped the matrix, so it has no verdict of its own. */
export type Verdict = 'passed' | 'failed' | 'skipped' | 'interrupted';

export interface Entry {
  readonly image: MatrixImage;
  phase: Phase;
  /** Resolved manifest digest of the image as run. */
  digest?: string;
  /** The run's exit status (128+N when killed by signal N); null when it never ran. */
  exitCode: number | null;
  /** When the current phase began (ms since epoch): for the elapsed time of live lines. */
  phaseSince: number;
  /** Wall time of the run itself (pulling excluded). */
  durationMs: number;
  /** Why flux could not run it (pull failed, …), when that is the cause of the failure. */
  error?: string;
  /** Why it was skipped when it had started, or why a failed image never ran. */
  note?: string;
  stdoutPath?: string;
  stderrPath?: string;
  /** The last lines of its output, both streams in the order written (see output-tail.ts). */
  outputTail?: string[];
  /** sha256 of everything the run wrote to stdout; absent when it never ran. Groups runs by outcome. */
  stdoutDigest?: string;
  /** The last lines of each stream on its own, for the HTML report and the diff between groups. */
  stdoutTail?: string[];
  stderrTail?: string[];
}

export function verdictOf(e: Entry): Verdict {
  if (e.phase === 'passed' || e.phase === 'failed' || e.phase === 'interrupted') return e.phase;
  return 'skipped';
}

export interface ExitStatus {
  exitCode: number;
}

/** A run in progress: a child process, or a fake one in tests. */
export interface RunningChild {
  readonly done: Promise<ExitStatus>;
  signal(sig: NodeJS.Signals): void;
}

/** Where a run's bytes go: results files, memory for JUnit, prefixed lines. */
export interface OutputSink {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
  /** The run is over (or never started: exitCode null); flush files. */
  close(exitCode: number | null, error?: string): Promise<void>;
}
