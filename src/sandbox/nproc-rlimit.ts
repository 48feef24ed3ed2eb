/**
 * The RLIMIT_NPROC that stands for `--pids-limit N` without a cgroup (see pids-rlimit.ts): the
 * helper and the container's init are root of the container's user namespace, so a command
 * running as root gets N + 1 (the helper, outside the pid namespace, counts for that user too),
 * one running as another user N - 1 (init, one of the N, is not of its user).
 */
import type { RlimitSpec } from './plan.js';

const RLIMIT_NPROC = 6;

export function nprocRlimit(n: number, uid: number): RlimitSpec {
  const v = BigInt(uid === 0 ? n + 1 : n - 1);
  return { resource: RLIMIT_NPROC, soft: v, hard: v };
}
