#!/usr/bin/env node
/**
 * npm's `install` step: builds the sandbox helper (native/*.c and flux-helper.h, libc only) with this
 * machine's C compiler, so an installed flux runs a helper made for the C library it runs on.
 * Without a compiler it says so in one sentence with the fix: the helper shipped in the package
 * (built where the package was packed) is kept when there is one, else the install fails.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NATIVE = join(ROOT, 'native');
const HELPER = join(NATIVE, 'build', 'flux-helper');

function onPath(cmd) {
  const candidates = isAbsolute(cmd) ? [cmd] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, cmd));
  return candidates.some((p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const FIX = 'install them (Debian: sudo apt-get install gcc make) and run `npm rebuild flux` (with -g for a global install)';

const cc = process.env.CC || 'cc';
const missing = [cc, 'make'].filter((c) => !onPath(c));
if (missing.length > 0) {
  const what = missing.map((m) => `\`${m}\``).join(' and ');
  if (existsSync(HELPER)) {
    process.stderr.write(`flux: ${what} not found, so the sandbox helper was not built on this machine and the one in the package is used; if runs fail to start, ${FIX}.\n`);
    process.exit(0);
  }
  process.stderr.write(`flux: cannot build the sandbox helper: ${what} not found; ${FIX}.\n`);
  process.exit(1);
}
try {
  // -B: the package's files all carry npm's fixed date, so make would think the shipped helper current.
  execFileSync('make', ['-s', '-B', '-C', NATIVE, 'build/flux-helper'], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CC: cc } });
} catch {
  process.stderr.write(`flux: building the sandbox helper with \`${cc}\` failed (its messages are above); fix the compiler set-up and run \`npm rebuild flux\` (with -g for a global install).\n`);
  process.exit(1);
}
