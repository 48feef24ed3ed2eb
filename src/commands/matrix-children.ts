/**
 * A matrix run: inside the matrix process by default (see matrix-inprocess.ts), or as its own
 * `flux run` process when another entry script is named. Children get their own process group,
 * so a Ctrl-C on the terminal reaches only the matrix, which passes it on once to each run.
 */
import { spawn } from 'node:child_process';
import type { ExitStatus, OutputSink, RunningChild } from '../matrix/types.js';
import { constants } from 'node:os';
import { startInProcess } from './matrix-inprocess.js';

export interface ChildRunOptions {
  /** `flux run` options, as given on the command line. */
  runArgs: readonly string[];
  command: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Run as a child process of this flux entry script instead of in this process. */
  bin?: string;
}

export function runArgv(image: string, opts: ChildRunOptions & { bin: string }): string[] {
  const argv = [opts.bin, 'run', ...opts.runArgs, '--pull=never', image];
  if (opts.command.length > 0) argv.push('--', ...opts.command);
  return argv;
}

export function spawnRun(image: string, sink: OutputSink, opts: ChildRunOptions): RunningChild {
  const bin = opts.bin;
  if (bin === undefined) return startInProcess(image, sink, opts);
  return spawnChild(image, sink, { ...opts, bin });
}

function spawnChild(image: string, sink: OutputSink, opts: ChildRunOptions & { bin: string }): RunningChild {
  const child = spawn(process.execPath, runArgv(image, opts), {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: opts.env ?? process.env,
  });
  child.stdout.on('data', (c: Buffer) => sink.stdout(c));
  child.stderr.on('data', (c: Buffer) => sink.stderr(c));
  const done = new Promise<ExitStatus>((resolve) => {
    let exited: ExitStatus | undefined;
    let streams = 2;
    const settle = (): void => {
      if (exited && streams === 0) resolve(exited);
    };
    child.stdout.once('close', () => (streams--, settle()));
    child.stderr.once('close', () => (streams--, settle()));
    child.once('error', (err) => {
      sink.stderr(Buffer.from(`flux: cannot start ${process.execPath}: ${err.message}\n`));
      exited = { exitCode: 125 };
      streams = 0;
      settle();
    });
    child.once('exit', (code, signal) => {
      const n = signal ? (constants.signals as Record<string, number>)[signal] ?? 0 : 0;
      exited = { exitCode: code ?? 128 + n };
      settle();
    });
  });
  let signalled = false;
  const send = (sig: NodeJS.Signals): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  return {
    done,
    signal(sig) {
      if (sig !== 'SIGKILL') {
        signalled = true;
        send(sig);
        return;
      }
      // SIGKILL would end `flux run` and leave its container to die without clean-up; a second
      // stop signal makes it kill the container itself, then clean up. Two signals sent at once
      // could merge into one: the second follows a moment later.
      send('SIGTERM');
      if (!signalled) setTimeout(() => send('SIGTERM'), 100).unref();
      signalled = true;
    },
  };
}
