/**
 * A matrix run inside the matrix process: the same `runCommand` as `flux run`, with the
 * sandbox's output piped into the run's sink. Starting a second Node for every image cost more
 * CPU than the run itself; the sandboxes are still separate processes, each in its own
 * namespaces, so one run cannot touch another.
 */
import { Command, CommanderError } from 'commander';
import { isFluxError } from '../errors.js';
import { addRunOptions, runOptionsFromCli } from '../flags/run-flags.js';
import type { ContainerOptions as RunOptions } from '../library/host-run.js';
import { createTurns } from '../matrix/turns.js';
import type { ExitStatus, OutputSink, RunningChild } from '../matrix/types.js';

// Loaded while the first images are still being made present, not when the first run starts.
const running = import('../library/host-run.js');
running.catch(() => undefined);

/**
 * The runs take turns at their own part, up to the plan handed to the helper (see turns.ts): a
 * run's helper then builds its container while the next run is planned.
 */
const turns = createTurns();

/** The run options of a matrix, parsed once: every run gets the same. */
const parsed = new WeakMap<readonly string[], RunOptions | Error>();

export function parseRunArgs(runArgs: readonly string[]): RunOptions {
  let o = parsed.get(runArgs);
  if (o === undefined) {
    try {
      const cmd = addRunOptions(new Command('run'))
        .exitOverride()
        .configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
      cmd.parse([...runArgs], { from: 'user' });
      o = runOptionsFromCli({ ...cmd.opts(), pull: 'never' });
    } catch (err) {
      o = err instanceof Error ? err : new Error(String(err));
    }
    parsed.set(runArgs, o);
  }
  if (o instanceof Error) throw o;
  return o;
}

/** What `flux run` would print for an error, and the exit code it would give. */
function report(err: unknown): { text: string; exitCode: number } {
  if (isFluxError(err)) return { text: `flux: ${err.message}${err.hint ? ` ${err.hint}` : ''}\n`, exitCode: err.exitCode };
  if (err instanceof CommanderError) return { text: `flux: ${err.message.replace(/^error: /, '')}\n`, exitCode: 125 };
  return { text: `flux: internal error: ${(err as Error)?.message ?? String(err)}\n`, exitCode: 125 };
}

export function startInProcess(image: string, sink: OutputSink, opts: { runArgs: readonly string[]; command: readonly string[] }): RunningChild {
  let kill: ((sig: NodeJS.Signals) => void) | undefined;
  // A signal that came before the sandbox existed reaches it (and any retry) as soon as it starts.
  let pending: NodeJS.Signals | undefined;
  const io = {
    stdout: (c: Buffer) => sink.stdout(c),
    stderr: (c: Buffer) => sink.stderr(c),
    onSpawn(k: (sig: NodeJS.Signals) => void) {
      kill = k;
      if (pending) k(pending);
    },
  };
  const done = (async (): Promise<ExitStatus> => {
    const release = await turns.take();
    try {
      const o = parseRunArgs(opts.runArgs);
      const { hostRun } = await running;
      return { exitCode: await hostRun(image, [...opts.command], o, { ...io, meanwhile: release }) };
    } catch (err) {
      const r = report(err);
      sink.stderr(Buffer.from(r.text));
      return { exitCode: r.exitCode };
    } finally {
      release();
    }
  })();
  return {
    done,
    signal(sig) {
      pending = sig;
      kill?.(sig);
    },
  };
}
