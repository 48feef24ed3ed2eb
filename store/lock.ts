/**
 * Inter-process locks on files under `locks/`, with flock(2) through koffi: the kernel releases a
 * lock when its holder dies (kill -9 included), so there are no stale lock files to take over.
 * flock locks belong to an open file description, so two holders in one process exclude each
 * other too. Waiting polls with LOCK_NB because a blocking flock would stall Node's event loop.
 */
import { closeSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { FluxError } from '../src/errors.js';
import { loadKoffi } from '../src/koffi.js';

const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;
const EINTR = 4;

type FlockFn = (fd: number, op: number) => number;
let flockFn: { flock: FlockFn; errno: () => number } | undefined;

async function libc(): Promise<{ flock: FlockFn; errno: () => number }> {
  if (!flockFn) {
    // Synchronous: an import() started Node's ES module loader for koffi alone (some 8 ms of a
    // cold pull's main thread, while its first request was out).
    const koffi = loadKoffi();
    const lib = koffi.load('libc.so.6');
    const flock = lib.func('int flock(int fd, int op)') as FlockFn;
    flockFn = { flock, errno: () => koffi.errno() as number };
  }
  return flockFn;
}

export interface Lock {
  release(): void;
}

export interface LockOptions {
  shared?: boolean;
  /** Called once if the lock is busy, e.g. to say what we are waiting for. */
  onWait?: () => void;
}

export async function acquireLock(path: string, opts: LockOptions = {}): Promise<Lock> {
  const { flock, errno } = await libc();
  const fd = openSync(path, 'a', 0o600);
  const op = (opts.shared ? LOCK_SH : LOCK_EX) | LOCK_NB;
  let delay = 5;
  let told = false;
  for (;;) {
    if (flock(fd, op) === 0) break;
    const e = errno();
    if (e !== EWOULDBLOCK && e !== EINTR) {
      closeSync(fd);
      throw new FluxError('LOCK_FAILED', `cannot lock ${path} (errno ${e}).`, {
        hint: 'Point FLUX_STORE at a directory on a local filesystem that supports flock.',
      });
    }
    if (!told) {
      told = true;
      opts.onWait?.();
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      // Closing the descriptor drops the flock.
      closeSync(fd);
    },
  };
}
