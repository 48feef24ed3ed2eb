/**
 * `flux.matrix()`: one command over many images, in parallel, one record per image (the records
 * `flux matrix --json` prints). Each image is pulled by the policy, then run in this process like
 * `flux.run()`, its output going to `onOutput` (dropped without it). The scheduling is the
 * command line's (src/matrix/); stopping is an AbortSignal, never the host's signals.
 */
import { availableParallelism } from 'node:os';
import { Writable } from 'node:stream';
import { FluxError } from '../errors.js';
import { parsePullPolicy } from '../pull/pull-policy.js';
import { collectImages, splitList, type MatrixImage } from '../matrix/images.js';
import { parseShard, selectShard } from '../matrix/shard.js';
import { Matrix } from '../matrix/scheduler.js';
import { jsonResults, type JsonResult } from '../matrix/format.js';
import type { Entry, OutputSink, Phase, RunningChild } from '../matrix/types.js';
import type { FluxOptions, RunOptions } from './api-types.js';

export type MatrixRecord = JsonResult;

export interface MatrixEvent {
  image: string;
  phase: Phase;
  exitCode: number | null;
  error?: string;
}

/** The run options every image gets, less those that make no sense for many runs with captured output. */
type SharedRunOptions = Omit<RunOptions, 'image' | 'rootfs' | 'command' | 'stdin' | 'stdout' | 'stderr' | 'tty' | 'ports' | 'publishAll' | 'signal'>;

export interface MatrixOptions extends SharedRunOptions {
  images: string[];
  command?: string[];
  /** Runs at once; default: the number of CPUs. */
  jobs?: number;
  /** Stop every other run at the first failure. */
  failFast?: boolean;
  /** `K/N`: only the K-th of N slices of the image list. */
  shard?: string;
  /** Every change of an image's phase (queued, pulling, waiting, running, passed, failed, skipped). */
  onEvent?: (e: MatrixEvent) => void;
  /** A run's output as it comes. */
  onOutput?: (image: string, stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  /** Stops every run (as Ctrl-C does `flux matrix`); the records then say which were skipped. */
  signal?: AbortSignal;
}

function sinkFor(e: Entry, onOutput: MatrixOptions['onOutput']): OutputSink {
  return {
    stdout: (c) => onOutput?.(e.image.ref, 'stdout', c),
    stderr: (c) => onOutput?.(e.image.ref, 'stderr', c),
    close: async () => undefined,
  };
}

export async function matrixRun(o: MatrixOptions, flux: FluxOptions): Promise<MatrixRecord[]> {
  if (!Array.isArray(o.images)) throw new FluxError('BAD_OPTION', 'matrix() needs images, a list of image references.', { hint: 'Give matrix({ images: [...] }).' });
  let images: MatrixImage[] = collectImages(o.images.flatMap(splitList));
  if (o.shard !== undefined) images = selectShard(images, parseShard(o.shard));
  const jobs = o.jobs ?? availableParallelism();
  const { images: _i, command, jobs: _j, failFast, shard: _s, onEvent, onOutput, signal, ...shared } = o;
  const { pullReport } = await import('./pull-images.js');
  const { foregroundRun } = await import('./foreground-run.js');
  const policy = parsePullPolicy(o.pull ?? 'missing', 'pull');
  const matrix = new Matrix(
    images,
    {
      async prepare(image, pulling) {
        if (policy === 'always') pulling();
        let said = policy === 'always';
        const onProgress = {
          blobStart() {
            if (!said) pulling();
            said = true;
          },
        };
        const r = await pullReport(image.ref, { policy, onProgress, ...(o.platform !== undefined ? { platform: o.platform } : {}), ...(o.insecure ? { insecure: true } : {}) }, flux.store);
        return r.image.digest;
      },
      run(image, sink): RunningChild {
        const stop = new AbortController();
        const stream = (write: (c: Buffer) => void) => new Writable({ write: (c: Buffer, _e, cb) => (write(c), cb()) });
        const done = foregroundRun(
          { ...shared, image: image.ref, command: command ?? [], pull: 'never', stdout: stream((c) => sink.stdout(c)), stderr: stream((c) => sink.stderr(c)), signal: stop.signal },
          flux,
        ).then((r) => ({ exitCode: r.exitCode }));
        return { done, signal: (sig) => stop.abort(sig) };
      },
      sink: (e) => sinkFor(e, onOutput),
    },
    {
      jobs,
      pullJobs: Math.max(jobs, 4),
      failFast: failFast ?? false,
      onChange: (e) => onEvent?.({ image: e.image.ref, phase: e.phase, exitCode: e.exitCode, ...(e.error !== undefined ? { error: e.error } : {}) }),
    },
  );
  const onAbort = (): void => matrix.stop(typeof signal?.reason === 'string' && signal.reason.startsWith('SIG') ? (signal.reason as NodeJS.Signals) : 'SIGINT');
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return jsonResults(await matrix.run());
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
