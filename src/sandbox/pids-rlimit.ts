/**
 * `--pids-limit N` where no cgroup can be had (the rootless case without cgroup v2 delegation):
 * RLIMIT_NPROC set on the command, which since Linux 5.14 counts the processes of a user in the
 * container's own user namespace, not the user's processes on the host. The limit is chosen so
 * that the container's processes (the members of its pid namespace, its init included, as
 * `flux ps` counts them) number at most N: the helper and the container's init are the user
 * namespace's root too, so a command running as root gets N + 1 (the helper outside the pid
 * namespace), one running as another user N - 1 (init is not of its user).
 * `--memory` and `--cpus` have no such stand-in and keep their refusal. The limit itself is
 * nproc-rlimit.ts (loaded on every run, unlike this cgroup code).
 */
import { readFileSync } from 'node:fs';
import { FluxError, isFluxError } from '../errors.js';
import { checkLimits, parsePids, type LimitHandle, type Limits } from './limits.js';

/** The cgroup for the limits, or the pids limit to apply through RLIMIT_NPROC instead. */
export function limitsOrNproc(l: Limits, realRoot: boolean): { cgroup?: LimitHandle; nproc?: number } {
  try {
    const cgroup = checkLimits(l);
    return cgroup ? { cgroup } : {};
  } catch (err) {
    // As real root there is no user namespace of the container's own to count in.
    const onlyPids = l.memory === undefined && l.cpus === undefined && l.pidsLimit !== undefined;
    if (!isFluxError(err) || err.code !== 'NO_CGROUP' || !onlyPids || realRoot) throw err;
    const n = parsePids(l.pidsLimit!);
    if (n < 0) return {};
    if (n < 2) {
      throw new FluxError('BAD_LIMIT', `--pids-limit ${n} leaves no room for the command: without a cgroup the container's init counts as one of its processes.`, {
        hint: 'Give --pids-limit 2 or more.',
        exitCode: 125,
      });
    }
    const own = ownNprocHard();
    // Without root a hard limit cannot be raised above one's own (which then holds anyway).
    if (own !== undefined && n + 1 > own) {
      throw new FluxError('BAD_LIMIT', `--pids-limit ${n} is above your own process limit (${own}), which only root may raise.`, {
        hint: `Give at most ${own - 1}, or raise your hard limit first (ulimit -Hu, /etc/security/limits.conf).`,
        exitCode: 125,
      });
    }
    return { nproc: n };
  }
}

/** flux's own hard RLIMIT_NPROC (undefined: unlimited or unknown). */
function ownNprocHard(): number | undefined {
  try {
    const row = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max processes'));
    const hard = row?.slice(26).trim().split(/\s+/)[1];
    return hard !== undefined && /^\d+$/.test(hard) ? Number(hard) : undefined;
  } catch {
    return undefined;
  }
}
