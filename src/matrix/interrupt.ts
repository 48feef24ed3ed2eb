/**
 * Ctrl-C (SIGINT), SIGTERM or SIGHUP during a matrix, stopped the way `docker stop` stops a
 * container: the first signal goes to each run's command, and runs still going after the grace
 * period are killed with every process of their container (a `sh -c '… make …'` passes nothing
 * on, so the command alone would keep compiling). A second signal kills them at once. Either way
 * the matrix goes on to its report; only the exit code tells of the signal.
 */
import { constants } from 'node:os';

export interface Stoppable {
  interrupt(sig: NodeJS.Signals): void;
  kill(): void;
}

export interface InterruptOptions {
  /** The grace period between the signal and the kill (--stop-timeout). */
  stopTimeoutMs: number;
  say(text: string): void;
}

export interface Interrupts {
  /** The first signal received, if any. */
  readonly signal: NodeJS.Signals | undefined;
  /** Stops listening (after the report is written: a signal during it must not lose it). */
  dispose(): void;
}

const STOPPING: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export function handleInterrupts(matrix: Stoppable, opts: InterruptOptions): Interrupts {
  let first: NodeJS.Signals | undefined;
  let timer: NodeJS.Timeout | undefined;
  let killed = false;
  const kill = (): void => {
    if (timer) clearTimeout(timer);
    killed = true;
    matrix.kill();
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    if (first !== undefined) {
      if (killed) return;
      opts.say(`flux: ${sig} received again: killing every run now.\n`);
      kill();
      return;
    }
    first = sig;
    const secs = opts.stopTimeoutMs / 1000;
    opts.say(`flux: ${sig} received: stopping every run, killed after ${secs}s if still running (send it again to kill them now).\n`);
    matrix.interrupt(sig);
    timer = setTimeout(() => {
      opts.say(`flux: runs still going after ${secs}s: killing them.\n`);
      kill();
    }, opts.stopTimeoutMs);
    // The matrix's runs keep the process alive; the timer alone must not.
    timer.unref();
  };
  for (const s of STOPPING) process.on(s, onSignal);
  return {
    get signal() {
      return first;
    },
    dispose() {
      if (timer) clearTimeout(timer);
      for (const s of STOPPING) process.off(s, onSignal);
    },
  };
}

/** The exit code of a process ended by `sig`, as a shell reports it: 130 for SIGINT, 143 for SIGTERM. */
export function signalExit(sig: NodeJS.Signals): number {
  return 128 + (constants.signals[sig] ?? 15);
}
