/** `--stop-signal` and an image's StopSignal: a name (TERM, SIGTERM) or a number, as docker takes them. */
import { constants } from 'node:os';
import { FluxError } from '../errors.js';

export function parseSignal(raw: string, what: string): NodeJS.Signals {
  const upper = raw.trim().toUpperCase();
  const signals = constants.signals as Record<string, number>;
  if (/^\d+$/.test(upper)) {
    const name = Object.keys(signals).find((k) => signals[k] === Number(upper));
    if (name) return name as NodeJS.Signals;
  } else {
    const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
    if (signals[name] !== undefined) return name as NodeJS.Signals;
  }
  throw new FluxError('BAD_SIGNAL', `${what} ${raw} is not a signal.`, { hint: 'Give a name such as SIGTERM, TERM or SIGINT, or a number.', exitCode: 125 });
}
