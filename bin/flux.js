#!/usr/bin/env node
import { main } from '../dist/src/cli/main.js';

let settled = false;
// If the event loop drains before main settles (a stream that never ended), that is a failure, not success.
process.on('exit', () => {
  if (settled) return;
  process.stderr.write('flux: internal error: stopped before the command finished.\n');
  process.exitCode = 125;
});
main(process.argv.slice(2)).finally(() => {
  settled = true;
});
