import { Option, type Command } from 'commander';
import { FluxError } from '../errors.js';
import { addRunOptions } from '../flags/run-flags.js';
import { noteMatrixKind } from './run-command.js';
import { NOT_FOR_MANY_FLAGS } from '../library/matrix-refused.js';
import type { MatrixInput, OutputMode, PullPolicy } from '../commands/matrix.js';


function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new FluxError('BAD_JOBS', `"${v}" is not a valid number of parallel runs.`, {
      hint: 'Give -j a whole number of at least 1, e.g. -j 4.',
      exitCode: 125,
    });
  }
  return n;
}

function seconds(v: string): number {
  const n = Number(v);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(v) || !Number.isFinite(n)) {
    throw new FluxError('BAD_STOP_TIMEOUT', `"${v}" is not a valid number of seconds for --stop-timeout.`, {
      hint: 'Give it a number of seconds of at least 0, e.g. --stop-timeout 30.',
      exitCode: 125,
    });
  }
  return n;
}

/**
 * Records run options exactly as typed, in order, so each child `flux run` gets the same
 * options and parses (and validates) them itself.
 */
function recordRaw(cmd: Command, skip: Set<string>): string[] {
  const raw: string[] = [];
  for (const opt of cmd.options) {
    const flag = opt.long ?? opt.short;
    if (!flag || skip.has(flag)) continue;
    cmd.on(`option:${opt.name()}`, (val: string | null | undefined) => {
      if (NOT_FOR_MANY_FLAGS.has(flag)) {
        throw new FluxError('MATRIX_OPTION', `${flag} cannot be used with flux matrix: runs are many, in parallel, with captured output.`, {
          hint: `Run that image on its own with \`flux run ${flag} …\`.`,
          exitCode: 125,
        });
      }
      raw.push(val === undefined || val === null ? flag : `${flag}=${val}`);
    });
  }
  return raw;
}

const MATRIX_FLAGS = new Set(['--image', '--images-file', '--jobs', '--fail-fast', '--output', '--results', '--json', '--junit', '--html', '--shard', '--stop-timeout', '--lock', '--update-lock', '--help', '--version']);
/** Options only the pulls need; `flux run` never pulls here. */
const PULL_ONLY = new Set(['--insecure']);

export function register(program: Command): void {
  const cmd = program
    .command('matrix')
    .summary('Run one command in many images in parallel, with one verdict per image')
    .description(
      'Run one command in every image, in parallel, and print a verdict per image. Images missing from the store are pulled first (shared layers once).\nExit status: 0 when every run passed, else 1; 130 after Ctrl-C, 143 after SIGTERM.',
    )
    .usage('[options] IMAGE[,IMAGE…] [-- COMMAND...]')
    .argument('[images...]', 'images, comma-separated or as separate words before --')
    .option('--image <image>', 'add an image (repeatable)', collect)
    .option('--images-file <file>', 'add the images listed in FILE, one per line (# comments; - for stdin)')
    .option('-j, --jobs <n>', 'at most N runs at once (default: number of cores, at least 4)', positiveInt)
    .option('--fail-fast', 'stop everything at the first failure')
    .addOption(new Option('--output <mode>', 'show each run\'s output lines prefixed with [image], or none').choices(['prefix', 'none']).default('none'))
    .option('--results <dir>', 'keep each run\'s stdout, stderr and exit code in DIR/<image>/')
    .option('--json', 'print the results as JSON instead of the table')
    .option('--junit <file>', 'write a JUnit XML report to FILE')
    .option('--html <file>', 'write a self-contained HTML report to FILE: verdicts, output, images grouped by outcome')
    .option('--shard <K/N>', 'run only the K-th of N slices of the matrix (stable split)')
    .option('--stop-timeout <secs>', 'on Ctrl-C or SIGTERM, kill runs still going after SECS seconds (default: 10)', seconds)
    .option('--lock <file>', 'run the manifest digests locked in FILE; lock those of images not in it yet (FILE is created)')
    .option('--update-lock', 'with --lock: resolve every image again and rewrite the lock');
  addRunOptions(cmd);
  for (const opt of cmd.options) if (opt.long && NOT_FOR_MANY_FLAGS.has(opt.long)) opt.hideHelp();
  const raw = recordRaw(cmd, MATRIX_FLAGS);

  // Operands after `--` are the command; commander would merge them with the images.
  let command: string[] = [];
  const parseOptions = cmd.parseOptions.bind(cmd);
  cmd.parseOptions = (args: string[]) => {
    const dash = args.indexOf('--');
    if (dash === -1) return parseOptions(args);
    command = args.slice(dash + 1);
    return parseOptions(args.slice(0, dash));
  };

  cmd.action(async (images: string[], opts: Record<string, unknown>) => {
    const { matrixCommand } = await import('../commands/matrix.js');
    const flagOf = (a: string): string => a.split('=')[0] ?? '';
    const runArgs = raw.filter((a) => flagOf(a) !== '--pull' && !PULL_ONLY.has(flagOf(a)));
    const input: MatrixInput = {
      lists: images,
      images: (opts.image as string[] | undefined) ?? [],
      failFast: opts.failFast === true,
      output: (opts.output as OutputMode | undefined) ?? 'none',
      json: opts.json === true,
      runArgs,
      pull: (opts.pull as PullPolicy | undefined) ?? 'missing',
      insecure: opts.insecure === true,
      quiet: opts.quiet === true,
      command,
    };
    if (typeof opts.imagesFile === 'string') input.imagesFile = opts.imagesFile;
    if (typeof opts.platform === 'string') input.platform = opts.platform;
    if (typeof opts.jobs === 'number') input.jobs = opts.jobs;
    if (typeof opts.results === 'string') input.results = opts.results;
    if (typeof opts.junit === 'string') input.junit = opts.junit;
    if (typeof opts.html === 'string') input.html = opts.html;
    if (typeof opts.shard === 'string') input.shard = opts.shard;
    if (typeof opts.stopTimeout === 'number') input.stopTimeout = opts.stopTimeout;
    if (typeof opts.lock === 'string') input.lock = opts.lock;
    if (opts.updateLock === true) {
      if (input.lock === undefined) {
        throw new FluxError('MATRIX_OPTION', '--update-lock rewrites a lock file, and no --lock FILE was given.', { hint: 'Add --lock FILE.', exitCode: 125 });
      }
      input.updateLock = true;
    }
    noteMatrixKind(typeof opts.network === 'string' ? opts.network : undefined);
    process.exitCode = await matrixCommand(input);
  });
}
