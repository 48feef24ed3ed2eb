#!/usr/bin/env node
import { statSync } from 'node:fs';

/**
 * The bundle (dist/flux.mjs, `npm run build`) starts faster; the plain `tsc` output is the
 * fallback when the bundle is missing or older than it, so a bare `tsc` rebuild is never shadowed
 * by a stale bundle.
 */
function entry() {
  try {
    const bundle = statSync(new URL('../dist/flux.mjs', import.meta.url)).mtimeMs;
    const compiled = statSync(new URL('../dist/src/cli/main.js', import.meta.url), { throwIfNoEntry: false })?.mtimeMs ?? 0;
    if (bundle >= compiled && process.env.FLUX_UNBUNDLED !== '1') return '../dist/flux.mjs';
  } catch {
    // no bundle
  }
  return '../dist/src/cli/main.js';
}

const { main } = await import(entry());

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
