/**
 * Prerequisites of a test. Under CI=true a missing one FAILS (a skipped test proves nothing);
 * on a developer machine the test is skipped with the reason.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { TestRunner } from 'vitest';

/** Read at each call, so a test can change CI. */
export function isCI(): boolean {
  return process.env.CI === 'true' || process.env.CI === '1';
}
export const inCI = isCI();

/** Absolute path of a command on PATH (or the path itself if it is one), or null. */
export function which(name: string): string | null {
  const candidates = name.includes('/')
    ? [name]
    : [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'].map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return null;
}

/**
 * Demand a prerequisite. `check` defaults to "the command is on PATH"; pass a function (true
 * when present) for other things, e.g. a device or a kernel feature.
 *
 * Inside a test: skips it (or fails under CI). At file level: returns false so the file can
 * write `describe.skipIf(!requireTool('skopeo'))(…)`, and throws under CI so the file fails.
 */
export function requireTool(name: string, check?: () => boolean, why?: string): boolean {
  const present = check ? safe(check) : which(name) !== null;
  if (present) return true;
  const message = `prerequisite missing: ${name}${why ? ` (${why})` : ''}`;
  if (isCI()) throw new Error(`${message}; CI=true, so this is a failure, not a skip`);
  const test = TestRunner.getCurrentTest();
  const ctx = (test as { context?: { skip?: (note?: string) => never } } | undefined)?.context;
  if (ctx?.skip) ctx.skip(message);
  console.warn(`skipping: ${message}`);
  return false;
}

function safe(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}

/** fuse-overlayfs and a /dev/fuse the test user may open: what the fuse root kind needs. */
export function needFuse(): void {
  requireTool('fuse-overlayfs');
  requireTool('/dev/fuse', () => {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
    return true;
  }, 'must be readable and writable by the test user');
}
