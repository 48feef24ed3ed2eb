/** `flux matrix`: one command over many images, in parallel, with one verdict per image. */
import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve as resolvePath, basename, join } from 'node:path';
import { FluxError } from '../errors.js';
import { escapeJson, escapeText } from '../escape.js';
import { storeRoot } from '../library/store-root.js';
import { collectImages, parseImagesFile, splitList, type MatrixImage } from '../matrix/images.js';
import { parseShard, selectShard } from '../matrix/shard.js';
import { Matrix } from '../matrix/scheduler.js';
import { SinkFactory } from '../matrix/output-sink.js';
import { safeNames } from '../matrix/results-dir.js';
import { spawnRun } from './matrix-children.js';
import { createStatus } from '../matrix/status.js';
import { jsonResults, summaryTable } from '../matrix/format.js';
import { junitSuiteName, junitXml } from '../matrix/junit.js';
import { htmlReport } from '../matrix/html.js';
import { failureReport } from '../matrix/failure-report.js';
import { groupLines } from '../matrix/groups.js';
import { handleInterrupts, signalExit } from '../matrix/interrupt.js';
import { MatrixLock } from '../matrix/lock.js';
import type { Entry } from '../matrix/types.js';

export type OutputMode = 'prefix' | 'none';
export type { PullPolicy } from '../library/api-types.js';
import type { PullPolicy } from '../library/api-types.js';

export interface MatrixInput {
  /** Positional lists (`A,B`), `--image` values, and the `--images-file` path. */
  lists: string[];
  images: string[];
  imagesFile?: string;
  jobs?: number;
  failFast: boolean;
  output: OutputMode;
  results?: string;
  json: boolean;
  junit?: string;
  /** --html FILE: the self-contained page (src/matrix/html.ts). */
  html?: string;
  shard?: string;
  /** Seconds between the stop signal and the kill of runs still going (default 10). */
  stopTimeout?: number;
  /** --lock FILE, and --update-lock. */
  lock?: string;
  updateLock?: boolean;
  /** `flux run` options as given on the command line, passed to every run. */
  runArgs: string[];
  pull: PullPolicy;
  platform?: string;
  insecure: boolean;
  quiet: boolean;
  command: string[];
}

export async function matrixCommand(input: MatrixInput): Promise<number> {
  const names = [...input.lists.flatMap(splitList), ...input.images.flatMap(splitList)];
  if (input.imagesFile !== undefined) names.push(...parseImagesFile(readImagesFile(input.imagesFile)));
  let images = collectImages(names);
  const shard = input.shard === undefined ? undefined : parseShard(input.shard);
  if (shard !== undefined) images = selectShard(images, shard);
  const lock = input.lock === undefined ? undefined : MatrixLock.open({ path: input.lock, update: input.updateLock === true, ...(input.platform ? { platform: input.platform } : {}) });

  const jobs = input.jobs ?? availableParallelism();
  const resultsDir = input.results === undefined ? undefined : prepareResultsDir(input.results);
  const dirNames = new Map<MatrixImage, string>();
  safeNames(images.map((i) => i.ref)).forEach((n, i) => dirNames.set(images[i]!, n));

  const stdout = process.stdout;
  const stderr = process.stderr;
  const live = stderr.isTTY === true && process.env.TERM !== 'dumb';
  const keep = input.junit !== undefined || resultsDir === undefined;
  const sinks = new SinkFactory({
    keep,
    ...(resultsDir !== undefined ? { resultsDir, dirName: (e: Entry) => dirNames.get(e.image) ?? 'image' } : {}),
    ...(input.output === 'prefix'
      ? { prefix: (e: Entry, _s: 'stdout' | 'stderr', line: string) => status.write(stdout, `[${e.image.ref}] ${line}\n`) }
      : {}),
  });

  const root = storeRoot();
  const env = { ...process.env, FLUX_STORE: root };
  const matrix = new Matrix(
    images,
    {
      async prepare(image, pulling) {
        // The store's locks make concurrent pulls of images sharing a layer fetch and unpack it once.
        const { pullReport } = await import('../library/pull-images.js');
        if (input.pull === 'always') pulling();
        let said = input.pull === 'always';
        const events = {
          blobStart() {
            if (!said) pulling();
            said = true;
          },
          notice: (m: string) => status.write(stderr, `[${image.ref}] ${m}\n`),
        };
        const opts = { policy: lock?.pullPolicy(image, input.pull) ?? input.pull, onProgress: events, ...(input.platform ? { platform: input.platform } : {}), ...(input.insecure ? { insecure: true } : {}) };
        const r = await pullReport(lock?.source(image) ?? image.ref, opts, root);
        lock?.resolved(image, r.record);
        return r.image.digest;
      },
      run: (image, sink) => spawnRun(lock?.source(image) ?? image.ref, sink, { runArgs: input.runArgs, command: input.command, env }),
      sink: (e) => sinks.create(e),
    },
    { jobs, pullJobs: Math.max(jobs, 4), failFast: input.failFast, onChange: (e) => status.change(e) },
  );
  const status = createStatus({
    entries: matrix.entries,
    stderr,
    live,
    colour: live && process.env.NO_COLOR === undefined,
    quiet: input.quiet,
  });

  const interrupts = handleInterrupts(matrix, { stopTimeoutMs: (input.stopTimeout ?? 10) * 1000, say: (t) => status.write(stderr, t) });

  // Should the event loop ever drain with runs unfinished, exit non-zero and say so, never 0.
  let finished = false;
  const onExit = (): void => {
    if (finished) return;
    process.exitCode = 125;
    stderr.write('flux: internal error: the matrix ended before every image had a verdict.\n');
  };
  process.on('exit', onExit);

  if (lock) status.write(stderr, lock.startNote(images));
  const started = new Date();
  let entries: Entry[];
  try {
    entries = await matrix.run();
  } finally {
    finished = true;
    process.off('exit', onExit);
    status.finish();
  }
  const totalMs = Date.now() - started.getTime();

  if (resultsDir !== undefined) {
    atomicWrite(join(resultsDir, 'results.json'), `${JSON.stringify(jsonResults(entries), null, 2)}\n`);
  }
  if (input.junit !== undefined) {
    const cases = entries.map((entry) => {
      const kept = sinks.kept.get(entry);
      return { entry, stdout: kept?.stdout.text() ?? '', stderr: kept?.stderr.text() ?? '' };
    });
    const xml = junitXml(cases, { timestamp: started, durationMs: totalMs, command: input.command.map(shellWord).join(' '), suite: junitSuiteName(shard) });
    writeReport(input.junit, xml, '--junit', 'JUnit report');
  }
  if (input.html !== undefined) {
    const page = htmlReport(entries, { started, durationMs: totalMs, command: input.command.map(shellWord).join(' ') });
    writeReport(input.html, page, '--html', 'HTML report');
  }
  // With --json, stdout is the JSON alone: the failures are explained on stderr (and in outputTail).
  if (input.json) {
    stdout.write(`${escapeJson(JSON.stringify(jsonResults(entries), null, 2))}\n`);
    stderr.write(failureReport(entries).replace(/^\n/, ''));
  } else stdout.write(summaryTable(entries) + groupLines(entries) + failureReport(entries));

  const locked = lock?.save();
  if (locked) stderr.write(locked);
  interrupts.dispose();
  if (interrupts.signal) return signalExit(interrupts.signal);
  return entries.every((e) => e.phase === 'passed') ? 0 : 1;
}

/** The command as one would type it, for reports. */
function shellWord(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

function readImagesFile(path: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new FluxError('MATRIX_IMAGES_FILE', `cannot read the images file ${path}: ${(err as Error).message}.`, {
      hint: 'Give --images-file a readable file with one image per line.',
      exitCode: 125,
    });
  }
}

function prepareResultsDir(dir: string): string {
  const abs = resolvePath(dir);
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

function writeReport(path: string, text: string, flag: '--junit' | '--html', what: string): void {
  try {
    atomicWrite(path, text);
  } catch (err) {
    throw new FluxError(flag === '--junit' ? 'MATRIX_JUNIT' : 'MATRIX_HTML', `cannot write the ${what} ${path}: ${(err as Error).message}.`, {
      hint: `Give ${flag} a path in a directory you can write to.`,
    });
  }
}

/** A CI system reading the report never sees half of it. */
function atomicWrite(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}
