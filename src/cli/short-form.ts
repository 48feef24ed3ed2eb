/**
 * `flux IMAGE -- CMD` typed at a terminal: the command gets that terminal, as `-i -t` gives it,
 * so `flux alpine -- sh` is a shell. Only when flux's own input and output are both terminals
 * and the line chose none of -i, -t and -d itself; piped or redirected, the short form runs as
 * `flux run` does. A module of its own: node:tty is loaded by the short form only.
 */
import { isatty } from 'node:tty';

const CHOSEN_LONG = /^--(interactive|tty|detach)(=|$)/;
/** A cluster of short flags holding -i, -t or -d (`-it`, `-dit`). */
const CHOSEN_SHORT = /^-[a-zA-Z]*[itd][a-zA-Z]*$/;

/** `args` (`run …`) with `-i -t` added when the short form was typed at a terminal. */
export function withTerminal(args: string[]): string[] {
  const end = args.indexOf('--');
  const opts = args.slice(1, end < 0 ? undefined : end);
  if (opts.some((a) => CHOSEN_LONG.test(a) || CHOSEN_SHORT.test(a))) return args;
  if (!isatty(0) || !isatty(1)) return args;
  return ['run', '-i', '-t', ...args.slice(1)];
}
