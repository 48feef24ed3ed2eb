/**
 * `--timeout SECS`: a safety net for CI and `flux matrix`. After SECS the command gets its stop
 * signal, and SIGKILL if it is still there 10 s later; the run then ends with TIMEOUT_EXIT.
 */

import { bad } from './run-error.js';

/**
 * Refuses a --timeout that is not a positive number of seconds, quoting it as given (`shown`: the
 * command line's text, whose conversion to a number would read NaN).
 */
export function checkTimeout(seconds: number, shown: string = String(seconds)): void {
  if (!(Number.isFinite(seconds) && seconds > 0)) {
    throw bad('BAD_TIMEOUT', `--timeout ${shown} is not a positive number of seconds.`, 'Write --timeout 60 for a run of at most a minute.');
  }
}

/** As timeout(1): the exit code of a command stopped for running too long. */
export const TIMEOUT_EXIT = 124;

/** How long a command stopped by --timeout has to end before it is killed. */
export const KILL_GRACE_MS = 10_000;

export interface RunTimer {
  /** The timeout has fired (the command was sent its stop signal). */
  fired(): boolean;
  clear(): void;
}

export function startTimeout(seconds: number, stopSignal: NodeJS.Signals, kill: (sig: NodeJS.Signals) => void): RunTimer {
  let fired = false;
  let grace: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    fired = true;
    kill(stopSignal);
    grace = setTimeout(() => kill('SIGKILL'), KILL_GRACE_MS);
  }, Math.min(seconds * 1000, 2 ** 31 - 1));
  return {
    fired: () => fired,
    clear: () => {
      clearTimeout(timer);
      if (grace) clearTimeout(grace);
    },
  };
}
