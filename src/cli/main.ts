import { Command, CommanderError } from 'commander';
import { FluxError, READER_GONE, isFluxError } from '../errors.js';
import { escapeText } from '../escape.js';
import { fsError } from '../fs-error.js';
import { register as registerRun } from './run-command.js';
import { register as registerPull } from './pull.js';
import { register as registerImages } from './images.js';
import { register as registerLogin } from './login.js';
import { register as registerMatrix } from './matrix.js';
import { register as registerInfo } from './info.js';
import { register as registerCompletion } from './completion.js';
import { register as registerContainers } from './containers.js';
import { register as registerNetworks } from './networks.js';
import { register as registerBench } from './bench.js';

const SUBCOMMANDS = new Set(['run', 'pull', 'images', 'inspect', 'rmi', 'prune', 'tag', 'save', 'load', 'push', 'info', 'login', 'logout', 'matrix', 'ps', 'logs', 'stop', 'kill', 'wait', 'port', 'rm', 'exec', 'stats', 'events', 'container', '__ended', 'network', 'bench', 'completion', '__complete', 'help']);

/** `flux IMAGE -- CMD` is `flux run IMAGE -- CMD`: anything that is not a subcommand or a global flag starts a run. */
/**
 * docker and podman commands flux does not have. Typed out of habit (`flux restart web`), each
 * would otherwise start a run of an image of that name, pulled from Docker Hub.
 */
const FOREIGN_COMMANDS = new Set(['attach', 'build', 'commit', 'cp', 'create', 'diff', 'export', 'history', 'import', 'pause', 'rename', 'restart', 'search', 'start', 'system', 'top', 'unpause', 'update', 'volume']);

/** The options of `flux` itself; any other option starts the short form of a run (`flux -p 80:80 IMAGE`). */
const PROGRAM_OPTIONS = new Set(['-h', '--help', '-V', '--version']);

export function withDefaultCommand(argv: string[]): string[] {
  const first = argv[0];
  if (first === undefined || PROGRAM_OPTIONS.has(first) || SUBCOMMANDS.has(first)) return argv;
  if (FOREIGN_COMMANDS.has(first)) {
    throw new FluxError('UNKNOWN_COMMAND', `there is no ${first} command in flux, and an image named ${first} would be pulled from Docker Hub instead.`, {
      hint: `See flux --help for the commands; to run an image named ${first}, write flux run ${first}.`,
      exitCode: 125,
    });
  }
  return ['run', ...argv];
}

type Registrar = (program: Command) => void;

/** Which registrar defines each subcommand: a command line builds only the one it names. */
const REGISTRAR: Record<string, Registrar> = {
  run: registerRun,
  pull: registerPull,
  images: registerImages,
  inspect: registerImages,
  rmi: registerImages,
  prune: registerImages,
  tag: registerImages,
  save: registerImages,
  load: registerImages,
  push: registerImages,
  info: registerInfo,
  login: registerLogin,
  logout: registerLogin,
  matrix: registerMatrix,
  completion: (p) => registerCompletion(p, () => buildProgram()),
  __complete: (p) => registerCompletion(p, () => buildProgram()),
  ps: registerContainers,
  logs: registerContainers,
  stop: registerContainers,
  kill: registerContainers,
  wait: registerContainers,
  rm: registerContainers,
  exec: registerContainers,
  stats: registerContainers,
  events: registerContainers,
  container: registerContainers,
  __ended: registerContainers,
  network: registerNetworks,
  bench: registerBench,
};
const ALL: Registrar[] = [registerRun, registerPull, registerImages, registerLogin, registerMatrix, registerInfo, registerContainers, registerNetworks, registerBench, (p) => registerCompletion(p, () => buildProgram())];

/**
 * The commander program. With `only`, just that subcommand's definitions are built: a warm
 * `flux run` then pays for its own thirty options, not for every other command's.
 */
export function buildProgram(only?: string): Command {
  const program = new Command('flux')
    .description('Rootless image-pulling sandbox: pull an image and run a command in it, no root, no daemon.')
    .usage('[options] IMAGE [--] [COMMAND...]  |  flux <command> ...')
    .version(process.env.npm_package_version ?? '0.1.0')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      // commander's own errors (an unknown option, a missing argument) in flux's form: one
      // sentence, then where the right spelling is.
      outputError: (s, write) => write(`flux: ${s.replace(/^error: /, '').trimEnd().replace(/\.$/, '')}. See the options with flux --help or flux COMMAND --help.\n`),
    });
  const one = only === undefined ? undefined : REGISTRAR[only];
  for (const register of one ? [one] : ALL) register(program);
  return program;
}

export function reportError(err: unknown): number {
  // A file-system error that reached here unexplained still gets its one sentence and fix.
  const fsErr = fsError(err);
  if (fsErr !== err) return reportError(fsErr);
  if (isFluxError(err)) {
    // Nothing to say to someone who closed the pipe themselves (`| head`): a tool ended by SIGPIPE says nothing either.
    if (err.code === READER_GONE) return err.exitCode;
    const hint = err.hint ? ` ${err.hint}` : '';
    // Messages quote image data (a command, a working directory, a tag): never raw.
    process.stderr.write(`flux: ${escapeText(`${err.message}${hint}`)}\n`);
    if (process.env.FLUX_DEBUG && err.cause) process.stderr.write(`${String((err.cause as Error).stack ?? err.cause)}\n`);
    return err.exitCode;
  }
  if (err instanceof CommanderError) {
    // commander already printed its own one-line message.
    return err.exitCode === 0 ? 0 : 125;
  }
  const e = err as Error;
  process.stderr.write(`flux: internal error: ${escapeText(e?.message ?? String(err))}\n`);
  if (process.env.FLUX_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`);
  return 125;
}

export async function main(argv: string[]): Promise<void> {
  // The origin (epoch ms) lets a caller place these times against its own clock (flux bench).
  if (process.env.FLUX_TIMING === '1') process.stderr.write(`flux: timing: origin ${performance.timeOrigin.toFixed(3)}\nflux: timing: cli ${performance.now().toFixed(1)} ms\n`);
  try {
    let args = withDefaultCommand(argv);
    if (args !== argv) args = (await import('./short-form.js')).withTerminal(args);
    // A run needs its command module anyway: load it while commander parses.
    if (args[0] === 'run') import('../commands/run-image.js').catch(() => undefined);
    await buildProgram(args[0]).parseAsync(args, { from: 'user' });
    if (process.exitCode === undefined) process.exitCode = 0;
  } catch (err) {
    process.exitCode = reportError(err);
  }
}

export { FluxError };
export { runKind } from './run-command.js';
