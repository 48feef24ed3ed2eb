/**
 * `flux matrix`: one command over many images, in parallel, with one verdict per image. The
 * flags become `flux.matrix()`'s options (src/library/matrix-run.ts decides everything); this
 * prints the outcome: the table, or the JSON, and the failed runs' output.
 */
import { escapeJson } from '../escape.js';
import { parsePullPolicy } from '../library/host-run.js';
import { runMatrix, type MatrixOptions } from '../library/matrix-run.js';
import { summaryTable } from '../matrix/format.js';
import { failureReport } from '../matrix/failure-report.js';
import { groupLines } from '../matrix/groups.js';
import { spawnRun } from './matrix-children.js';

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
  const { stdout, stderr } = process;
  const live = stderr.isTTY === true && process.env.TERM !== 'dumb';
  const o: MatrixOptions = {
    images: [...input.lists, ...input.images],
    command: input.command,
    failFast: input.failFast,
    pull: parsePullPolicy(input.pull),
    messages: stderr,
    hostSignals: input.stopTimeout === undefined ? {} : { stopTimeout: input.stopTimeout },
    ...(input.quiet ? {} : { progress: { stream: stderr, live, colour: live && process.env.NO_COLOR === undefined } }),
    ...(input.output === 'prefix' ? { prefixOutput: stdout } : {}),
    ...(input.insecure ? { insecure: true } : {}),
  };
  for (const k of ['imagesFile', 'jobs', 'results', 'junit', 'html', 'shard', 'lock', 'updateLock', 'platform'] as const) {
    if (input[k] !== undefined) Object.assign(o, { [k]: input[k] });
  }

  // Should the event loop ever drain with runs unfinished, exit non-zero and say so, never 0.
  let finished = false;
  const onExit = (): void => {
    if (finished) return;
    process.exitCode = 125;
    stderr.write('flux: internal error: the matrix ended before every image had a verdict.\n');
  };
  process.on('exit', onExit);
  let outcome;
  try {
    // Each image runs as `flux run` would with the same flags, parsed by flux run's own parser.
    outcome = await runMatrix(o, {}, (image, sink) => spawnRun(image, sink, { runArgs: input.runArgs, command: input.command }));
  } finally {
    finished = true;
    process.off('exit', onExit);
  }

  // With --json, stdout is the JSON alone: the failures are explained on stderr (and in outputTail).
  const { entries } = outcome;
  if (input.json) {
    stdout.write(`${escapeJson(JSON.stringify(outcome.records, null, 2))}\n`);
    stderr.write(failureReport(entries).replace(/^\n/, ''));
  } else stdout.write(summaryTable(entries) + groupLines(entries) + failureReport(entries));
  return outcome.exitCode;
}
