/**
 * docker's rule for `-i -t`: the command reads a terminal that flux feeds from its own input. A
 * pipe or a file there never passes its end on through the terminal (no ^D), so the command would
 * wait forever: such a run is refused before anything is created. A module of its own so that
 * node:tty is loaded only by the runs that ask for both.
 */
import { isatty } from 'node:tty';
import { bad } from './run-error.js';

export function checkInteractiveTerminal(): void {
  if (!isatty(0)) {
    throw bad('STDIN_NOT_A_TTY', 'the input is not a terminal, and -i -t would give the command a terminal fed from it that never ends.', 'Drop -t to pipe input into the command (flux run -i …), or run from a terminal.');
  }
}
