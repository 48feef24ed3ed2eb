/**
 * Runs a matrix: each image is made present in the store (at most `pullJobs` pulls at once), then
 * run (at most `jobs` at once). Pulls and runs overlap: an image that is already present runs
 * while another still pulls. The scheduler knows nothing of processes or the store; `deps` does.
 */
import { isFluxError } from '../errors.js';
import { limiter } from './limiter.js';
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
  private readonly running = new Set<RunningChild>();
  private readonly now: () => number;

  constructor(images: readonly MatrixImage[], private readonly deps: MatrixDeps, private readonly opts: MatrixOptions) {
    this.now = opts.now ?? Date.now;
    const t = this.now();
    this.entries = images.map((image) => ({ image, phase: 'queued' as Phase, exitCode: null, phaseSince: t, durationMs: 0 }));
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Starts nothing new and passes `sig` to every run in progress (which then cleans up and exits). */
  stop(sig: NodeJS.Signals = 'SIGTERM'): void {
    this.stopped = true;
    for (const child of this.running) child.signal(sig);
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
      const digest = await pullSlot(async () => {
        if (this.stopped) return undefined;
        return this.deps.prepare(e.image, () => this.set(e, 'pulling'));
      });
      if (digest !== undefined) e.digest = digest;
    } catch (err) {
      if (this.stopped) return this.set(e, 'skipped');
      e.durationMs = 0;
      e.error = isFluxError(err) ? `${err.message}${err.hint ? ` ${err.hint}` : ''}` : (err as Error)?.message ?? String(err);
      e.exitCode = isFluxError(err) ? err.exitCode : 125;
      e.note = 'not run: the pull failed';
      const sink = this.deps.sink(e);
      await sink.close(e.exitCode, e.error);
      this.fail(e);
      return;
    }
    if (this.stopped) return this.set(e, 'skipped');
    this.set(e, 'waiting');
    await runSlot(async () => {
      if (this.stopped) return this.set(e, 'skipped');
      const sink = this.deps.sink(e);
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
      else if (this.stopped && e.error === undefined) {
        // Stopped from outside (fail-fast, Ctrl-C): the verdict would not be this image's.
        e.note = 'stopped before it finished';
        this.set(e, 'skipped');
      } else this.fail(e);
    });
  }

  private fail(e: Entry): void {
    this.set(e, 'failed');
    if (this.opts.failFast && !this.stopped) this.stop('SIGTERM');
  }
}
