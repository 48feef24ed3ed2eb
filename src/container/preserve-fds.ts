/**
 * `--preserve-fds N` (podman): flux's fds 3…3+N-1 (those the shell opened for it, as in
 * `flux run --preserve-fds 1 IMAGE … 3<file`) are passed on to the command as the same numbers.
 * Only those: every other fd stays behind (CVE-2024-21626).
 */
import { fstatSync, readdirSync, readlinkSync } from 'node:fs';
import { FluxError } from '../errors.js';

export const PRESERVE_MAX = 64;

export function checkPreserveFds(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > PRESERVE_MAX) {
    throw new FluxError('BAD_PRESERVE_FDS', `--preserve-fds ${n} is not a number of fds from 0 to ${PRESERVE_MAX}.`, { hint: 'Write --preserve-fds 1 to pass fd 3 on, 2 for fds 3 and 4.', exitCode: 125 });
  }
  for (let fd = 3; fd < 3 + n; fd++) {
    if (!inherited(fd)) {
      throw new FluxError('BAD_PRESERVE_FDS', `--preserve-fds ${n} passes fd ${fd} on, and no fd ${fd} was opened for flux.`, { hint: `Open it for flux, e.g. flux run --preserve-fds ${n} … ${fd}<FILE.`, exitCode: 125 });
    }
  }
  return n;
}

/**
 * An fd opened for flux, not one of Node's own. Node marks every fd close-on-exec at start, so
 * that flag tells nothing; what does is the kind: Node's event loop holds an epoll, eventfds and
 * a pipe whose two ends it both keeps. Those never go along.
 */
function inherited(fd: number): boolean {
  let target: string;
  try {
    fstatSync(fd);
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return false;
  }
  if (target.startsWith('anon_inode:')) return false;
  if (target.startsWith('pipe:')) {
    // Both ends in flux: a pipe of flux's own (libuv's signal pipe), not one handed in.
    const both = readdirSync('/proc/self/fd').filter((f) => {
      try {
        return readlinkSync(`/proc/self/fd/${f}`) === target;
      } catch {
        return false;
      }
    });
    return both.length === 1;
  }
  return true;
}
