/**
 * `flux.matrix()`: one command over many images, in parallel, one record per image (the records
 * `flux matrix --json` prints). Each image is pulled by the policy (or at the digest its lock
 * says), then run in this process like `flux.run()`. Every decision of `flux matrix` is made here:
 * the image list, the shard, the lock, the results directory, the reports, the exit code; the
 * command only turns its flags into these options and prints the outcome.
 *
 * The library never prints unless given a stream (`progress`, `prefixOutput`), and touches the
 * host's signals only with `hostSignals`: otherwise stopping is an AbortSignal.
 */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { FluxError } from '../errors.js';
import { parsePullPolicy } from '../pull/pull-policy.js';
import { pullImage } from '../pull/pull-image.js';
import { Store } from '../../store/store.js';
import { collectImages, readImagesFile, splitList, type MatrixImage } from '../matrix/images.js';
import { parseShard, selectShard } from '../matrix/shard.js';
import { manyRunOption } from './matrix-refused.js';
import { Matrix } from '../matrix/scheduler.js';
import { defaultJobs } from '../matrix/default-jobs.js';
import { jsonResults, type JsonResult } from '../matrix/format.js';
import { SinkFactory } from '../matrix/output-sink.js';
import { safeNames } from '../matrix/results-dir.js';
import { createStatus, type StatusDisplay } from '../matrix/status.js';
import { handleInterrupts, signalExit, type Interrupts } from '../matrix/interrupt.js';
import { atomicWrite, checkReportPath, commandLine, prepareResultsDir, writeReport } from '../matrix/report-files.js';
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
  /** More images, from a file with one per line (`#` comments; `-` reads standard input). */
  imagesFile?: string;
  command?: string[];
  /** Runs at once; default: the number of CPUs, at least 4 (see matrix/default-jobs.ts). */
  jobs?: number;
  /** Stop every other run at the first failure. */
  failFast?: boolean;
  /** `K/N`: only the K-th of N slices of the image list. */
  shard?: string;
  /** A directory that gets `<image>/{stdout,stderr,exit-code}` per image and `results.json`. */
  results?: string;
  /** A JUnit XML report written to this path. */
  junit?: string;
  /** A self-contained HTML report written to this path. */
  html?: string;
  /** A lock file: run the digests it locks, lock those of images not in it yet (it is created). */
  lock?: string;
  /** With `lock`: resolve every image again and rewrite the lock. */
  updateLock?: boolean;
  /** Every change of an image's phase (queued, pulling, waiting, running, passed, failed, skipped). */
  onEvent?: (e: MatrixEvent) => void;
  /** A run's output as it comes. */
  onOutput?: (image: string, stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  /** Each run's output lines, as `[image] line`, written to this stream. */
  prefixOutput?: NodeJS.WritableStream;
  /**
   * Progress lines written to this stream: on a terminal (`live`) one line per image redrawn in
   * place, else one line per change.
   */
  progress?: { stream: NodeJS.WriteStream; live?: boolean; colour?: boolean };
  /** flux's own notices (what the lock decides, pull notes, signals received) written to this stream as `flux matrix` prints them; without it they go to onMessage. */
  messages?: NodeJS.WritableStream;
  /** Stops every run (as Ctrl-C does `flux matrix`); the records then say which were skipped. */
  signal?: AbortSignal;
  /**
   * Handle SIGINT, SIGTERM and SIGHUP of this process as `flux matrix` does, for as long as the
   * call runs: the first stops every run, which is killed after `stopTimeout` seconds (default
   * 10) if still going; a second kills them at once. The outcome then names the signal.
   */
  hostSignals?: { stopTimeout?: number };
}

/** Everything a matrix found, for the command line: the records and what they were made of. */
export interface MatrixOutcome {
  records: MatrixRecord[];
  entries: Entry[];
  /** The first host signal received (with `hostSignals`). */
  signal?: NodeJS.Signals;
  /** 0 when every image passed, else 1; 128+N after host signal N (130 for Ctrl-C). */
  exitCode: number;
}

/** Starts one image's run: the library's own in-process run unless the caller brings one. */
export type MatrixRunner = (image: string, sink: OutputSink) => RunningChild;

export async function matrixRun(o: MatrixOptions, flux: FluxOptions): Promise<MatrixRecord[]> {
  return (await runMatrix(o, flux)).records;
}

function imagesOf(o: MatrixOptions): MatrixImage[] {
  if (!Array.isArray(o.images)) throw new FluxError('BAD_OPTION', 'matrix() needs images, a list of image references.', { hint: 'Give matrix({ images: [...] }).' });
  const names = o.images.flatMap(splitList);
  if (o.imagesFile !== undefined) names.push(...readImagesFile(o.imagesFile));
  const images = collectImages(names);
  return o.shard === undefined ? images : selectShard(images, parseShard(o.shard));
}

/**
 * Run options that make no sense for many runs at once (matrix-refused.ts). The type leaves
 * them out; a caller in plain JavaScript may still pass them, and is told so rather than ignored.
 */
function refuseManyRunOptions(o: MatrixOptions): void {
  const found = manyRunOption(o as unknown as Record<string, unknown>);
  if (found !== undefined) {
    throw new FluxError('MATRIX_OPTION', `${found} cannot be used with matrix(): runs are many, in parallel, with captured output.`, { hint: `Run that image on its own with run({ ${found} }).`, exitCode: 125 });
  }
}

export async function runMatrix(o: MatrixOptions, flux: FluxOptions, runner?: MatrixRunner): Promise<MatrixOutcome> {
  if (o.updateLock === true && o.lock === undefined) {
    throw new FluxError('MATRIX_OPTION', 'updateLock rewrites a lock file, and no lock file was given.', { hint: 'Give lock, the path of the lock file.', exitCode: 125 });
  }
  refuseManyRunOptions(o);
  const images = imagesOf(o);
  const policy = parsePullPolicy(o.pull ?? 'missing', 'pull');
  if (o.junit !== undefined) checkReportPath(o.junit, 'junit');
  if (o.html !== undefined) checkReportPath(o.html, 'html');
  if (o.lock !== undefined) checkReportPath(o.lock, 'lock');
  // The lock (and the platform code it shares with the pull, the HTTP client's chunk) only when
  // a lock file is given: a matrix of stored images then loads none of the pull's code.
  const lock = o.lock === undefined ? undefined : (await import('../matrix/lock.js')).MatrixLock.open({ path: o.lock, update: o.updateLock === true, ...(o.platform !== undefined ? { platform: o.platform } : {}) });
  const jobs = o.jobs ?? defaultJobs();
  // One store for every image's look-up (and pull), not one opened per image.
  const store = Store.open(flux.store);
  const resultsDir = o.results === undefined ? undefined : prepareResultsDir(o.results);
  const dirNames = new Map<MatrixImage, string>();
  safeNames(images.map((i) => i.ref)).forEach((n, i) => dirNames.set(images[i]!, n));
  const { images: _i, imagesFile: _f, command = [], jobs: _j, failFast, shard, results: _r, junit, html, lock: _l, updateLock: _u, onEvent, onOutput, prefixOutput, progress, messages, signal, hostSignals, ...shared } = o;

  // Notices and prefixed lines go between the live progress lines, never through them.
  let status: StatusDisplay | undefined;
  const write = (stream: NodeJS.WritableStream, text: string): void => {
    if (status !== undefined) status.write(stream as NodeJS.WriteStream, text);
    else stream.write(text);
  };
  const say = (text: string): void => {
    if (messages !== undefined) write(messages, text);
    else o.onMessage?.(text.replace(/^flux: /, '').replace(/\n$/, ''));
  };
  const sinks = new SinkFactory({
    // JUnit carries every run's output; the rest needs only the tails the sinks keep anyway.
    keep: junit !== undefined,
    ...(resultsDir !== undefined ? { resultsDir, dirName: (e: Entry) => dirNames.get(e.image) ?? 'image' } : {}),
    ...(prefixOutput !== undefined
      ? { prefix: (e: Entry, _s: 'stdout' | 'stderr', line: string) => write(prefixOutput, `[${e.image.ref}] ${line}\n`) }
      : {}),
  });

  const run = runner ?? (await inProcessRunner(shared, command, flux));
  const matrix = new Matrix(
    images,
    {
      async prepare(image, pulling) {
        // The store's locks make concurrent pulls of images sharing a layer fetch and unpack it once.
        const imagePolicy = lock?.pullPolicy(image, policy) ?? policy;
        if (imagePolicy === 'always') pulling();
        let said = imagePolicy === 'always';
        const onProgress = {
          blobStart() {
            if (!said) pulling();
            said = true;
          },
          notice: (m: string) => say(`[${image.ref}] ${m}\n`),
        };
        const r = await pullImage(lock?.source(image) ?? image.ref, { store, pull: imagePolicy, events: onProgress, ...(o.platform !== undefined ? { platform: o.platform } : {}), ...(o.insecure ? { insecure: true } : {}) });
        lock?.resolved(image, r.record);
        return r.record.manifestDigest;
      },
      run: (image, sink) => run(lock?.source(image) ?? image.ref, sink),
      sink(e) {
        const sink = sinks.create(e);
        if (onOutput === undefined) return sink;
        return {
          stdout: (c) => (sink.stdout(c), onOutput(e.image.ref, 'stdout', c)),
          stderr: (c) => (sink.stderr(c), onOutput(e.image.ref, 'stderr', c)),
          close: (code, error) => sink.close(code, error),
        };
      },
    },
    {
      jobs,
      pullJobs: Math.max(jobs, 4),
      failFast: failFast ?? false,
      onChange(e) {
        status?.change(e);
        onEvent?.({ image: e.image.ref, phase: e.phase, exitCode: e.exitCode, ...(e.error !== undefined ? { error: e.error } : {}) });
      },
    },
  );
  if (progress !== undefined) {
    status = createStatus({ entries: matrix.entries, stderr: progress.stream, live: progress.live === true, colour: progress.colour === true });
  }

  let interrupts: Interrupts | undefined;
  if (hostSignals !== undefined) interrupts = handleInterrupts(matrix, { stopTimeoutMs: (hostSignals.stopTimeout ?? 10) * 1000, say });
  const onAbort = (): void => matrix.stop(typeof signal?.reason === 'string' && signal.reason.startsWith('SIG') ? (signal.reason as NodeJS.Signals) : 'SIGINT');
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (lock) say(lock.startNote(images));
    const started = new Date();
    let entries: Entry[];
    try {
      entries = await matrix.run();
    } finally {
      status?.finish();
      status = undefined;
    }
    const durationMs = Date.now() - started.getTime();
    const records = jsonResults(entries);

    if (resultsDir !== undefined) atomicWrite(join(resultsDir, 'results.json'), `${JSON.stringify(records, null, 2)}\n`);
    if (junit !== undefined) {
      const cases = entries.map((entry) => {
        const kept = sinks.kept.get(entry);
        return { entry, stdout: kept?.stdout.text() ?? '', stderr: kept?.stderr.text() ?? '' };
      });
      // The reports' modules only when a report is asked for.
      const { junitSuiteName, junitXml } = await import('../matrix/junit.js');
      const suite = junitSuiteName(shard === undefined ? undefined : parseShard(shard));
      writeReport(junit, junitXml(cases, { timestamp: started, durationMs, command: commandLine(command), suite }), 'junit');
    }
    if (html !== undefined) writeReport(html, (await import('../matrix/html.js')).htmlReport(entries, { started, durationMs, command: commandLine(command) }), 'html');
    const locked = lock?.save();
    if (locked) say(locked);

    const caught = interrupts?.signal;
    const exitCode = caught !== undefined ? signalExit(caught) : entries.every((e) => e.phase === 'passed') ? 0 : 1;
    return { records, entries, exitCode, ...(caught !== undefined ? { signal: caught } : {}) };
  } finally {
    // Only now: a signal while the reports are written must still be the matrix's, not the default.
    interrupts?.dispose();
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Each image run like `flux.run()`, its output into the matrix's sink, stopped by its own AbortController. */
async function inProcessRunner(shared: SharedRunOptions, command: string[], flux: FluxOptions): Promise<MatrixRunner> {
  const { foregroundRun } = await import('./foreground-run.js');
  return (image, sink) => {
    const stop = new AbortController();
    const stream = (write: (c: Buffer) => void) => new Writable({ write: (c: Buffer, _e, cb) => (write(c), cb()) });
    const done = foregroundRun(
      { ...shared, image, command, pull: 'never', stdout: stream((c) => sink.stdout(c)), stderr: stream((c) => sink.stderr(c)), signal: stop.signal },
      flux,
    ).then((r) => ({ exitCode: r.exitCode }));
    return { done, signal: (sig) => stop.abort(sig) };
  };
}
