/**
 * Runs a matrix: each image is made present in the store (at most `pullJobs` pulls at once), then
 * run (at most `jobs` at once). Pulls and runs overlap: an image that is already present runs
 * while another still pulls. The scheduler knows nothing of processes or the store; `deps` does.
 */
import { isFluxError } from '../errors.js';
import { limiter } from './limiter.js';
import { captureOutput } from './capture.js';
import type { MatrixImage } from './images.js';
import type { Entry, OutputSink, Phase, RunningChild } from './types.js';

export interface MatrixDeps {
  /** Makes the image present; calls `pulling()` first when it has to fetch it. Returns its manifest digest. */
  prepare(image: MatrixImage, pulling: () => void): Promise<string | undefined>;
  run(image: MatrixImage, sink: OutputSink): RunningChild;
  sink(entry: Entry): OutputSink;
}

export interface MatrixOptions {
  jobs: number;
  pullJobs: number;
  failFast: boolean;
  onChange?: (entry: Entry) => void;
  now?: () => number;
}

export class Matrix {
  readonly entries: Entry[];
  private stopped = false;
  /** Stopped by a signal (Ctrl-C), not by --fail-fast: runs under way are marked interrupted. */
  private interrupted = false;
  /** Resolves when the matrix is stopped: a pull in progress is then not waited for. */
  private readonly stopping: Promise<undefined>;
  private onStop: () => void = () => undefined;
  private readonly running = new Set<RunningChild>();
  private readonly now: () => number;

  constructor(images: readonly MatrixImage[], private readonly deps: MatrixDeps, private readonly opts: MatrixOptions) {
    this.now = opts.now ?? Date.now;
    this.stopping = new Promise((resolve) => {
      this.onStop = () => resolve(undefined);
    });
    const t = this.now();
    this.entries = images.map((image) => ({ image, phase: 'queued' as Phase, exitCode: null, phaseSince: t, durationMs: 0 }));
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Starts nothing new and passes `sig` to every run in progress (which then cleans up and exits). */
  stop(sig: NodeJS.Signals = 'SIGTERM'): void {
    this.stopped = true;
    this.onStop();
    for (const child of this.running) child.signal(sig);
  }

  /** As stop(), for a signal from outside: the runs it stops are interrupted, not skipped. */
  interrupt(sig: NodeJS.Signals): void {
    this.interrupted = true;
    this.stop(sig);
  }

  /** Kills every run in progress at once, each with every process of its container. */
  kill(): void {
    this.interrupted = true;
    this.stop('SIGKILL');
  }

  async run(): Promise<Entry[]> {
    const pullSlot = limiter(Math.max(1, this.opts.pullJobs));
    const runSlot = limiter(Math.max(1, this.opts.jobs));
    await Promise.all(this.entries.map((e) => this.one(e, pullSlot, runSlot)));
    return this.entries;
  }

  private set(e: Entry, phase: Phase): void {
    e.phase = phase;
    e.phaseSince = this.now();
    this.opts.onChange?.(e);
  }

  private async one(
    e: Entry,
    pullSlot: <T>(t: () => Promise<T>) => Promise<T>,
    runSlot: <T>(t: () => Promise<T>) => Promise<T>,
  ): Promise<void> {
    try {
      const pulled = pullSlot(async () => {
        if (this.stopped) return undefined;
        return this.deps.prepare(e.image, () => this.set(e, 'pulling'));
      });
      pulled.catch(() => undefined);
      // A stopped matrix reports at once; a pull it no longer needs ends with the process.
      const digest = await Promise.race([pulled, this.stopping]);
      if (digest !== undefined) e.digest = digest;
    } catch (err) {
      if (this.stopped) return this.skip(e);
      e.durationMs = 0;
      e.error = isFluxError(err) ? `${err.message}${err.hint ? ` ${err.hint}` : ''}` : (err as Error)?.message ?? String(err);
      e.exitCode = null;
      e.note = 'not run: the pull failed';
      const sink = this.deps.sink(e);
      await sink.close(e.exitCode, e.error);
      this.fail(e);
      return;
    }
    if (this.stopped) return this.skip(e);
    this.set(e, 'waiting');
    await runSlot(async () => {
      if (this.stopped) return this.skip(e);
      const sink = captureOutput(e, this.deps.sink(e));
      this.set(e, 'running');
      const started = this.now();
      let status: { exitCode: number };
      try {
        const child = this.deps.run(e.image, sink);
        this.running.add(child);
        try {
          status = await child.done;
        } finally {
          this.running.delete(child);
        }
      } catch (err) {
        e.error = (err as Error)?.message ?? String(err);
        status = { exitCode: 125 };
      }
      e.durationMs = this.now() - started;
      e.exitCode = status.exitCode;
      await sink.close(status.exitCode, e.error);
      if (status.exitCode === 0) this.set(e, 'passed');
      else if (this.stopped && this.interrupted) this.set(e, 'interrupted');
      else if (this.stopped && e.error === undefined) {
        // Stopped by --fail-fast: the verdict would not be this image's.
        e.note = 'stopped before it finished';
        this.set(e, 'skipped');
      } else this.fail(e);
    });
  }

  private skip(e: Entry): void {
    if (this.interrupted) e.note = 'not run: the matrix was interrupted';
    this.set(e, 'skipped');
  }

  private fail(e: Entry): void {
    this.set(e, 'failed');
    if (this.opts.failFast && !this.stopped) this.stop('SIGTERM');
  }
}
