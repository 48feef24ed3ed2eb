/**
 * `--ulimit NAME=SOFT[:HARD]` (docker's names), set on the command by the helper. Without real
 * root no hard limit may rise above flux's own, so such a request is refused here, in one
 * sentence, rather than by setrlimit inside the container.
 */
import { readFileSync } from 'node:fs';
import { FluxError } from '../errors.js';
import type { RlimitSpec } from '../sandbox/plan.js';

/** docker's name → the kernel's resource number and its row in /proc/self/limits. */
const RESOURCES: Record<string, [number, string]> = {
  cpu: [0, 'Max cpu time'], fsize: [1, 'Max file size'], data: [2, 'Max data size'], stack: [3, 'Max stack size'],
  core: [4, 'Max core file size'], rss: [5, 'Max resident set'], nproc: [6, 'Max processes'], nofile: [7, 'Max open files'],
  memlock: [8, 'Max locked memory'], as: [9, 'Max address space'], locks: [10, 'Max file locks'],
  sigpending: [11, 'Max pending signals'], msgqueue: [12, 'Max msgqueue size'], nice: [13, 'Max nice priority'],
  rtprio: [14, 'Max realtime priority'], rttime: [15, 'Max realtime timeout'],
};

export const UNLIMITED = 18446744073709551615n;

const HINT = 'Write --ulimit NAME=SOFT[:HARD], e.g. --ulimit nofile=1024:4096 (-1 or unlimited for no limit).';

function value(text: string, spec: string): bigint {
  if (text === '-1' || text === 'unlimited') return UNLIMITED;
  if (!/^\d{1,19}$/.test(text)) throw new FluxError('BAD_ULIMIT', `"${text}" in --ulimit ${spec} is not a number.`, { hint: HINT, exitCode: 125 });
  return BigInt(text);
}

/** flux's own hard limit of a resource, from /proc/self/limits (undefined: unknown). */
function currentHard(row: string, limits: string): bigint | undefined {
  const line = limits.split('\n').find((l) => l.startsWith(row));
  const hard = line?.slice(26).trim().split(/\s+/)[1];
  if (hard === undefined) return undefined;
  return hard === 'unlimited' ? UNLIMITED : BigInt(hard);
}

export function parseUlimit(spec: string, realRoot: boolean, limits = (() => { try { return readFileSync('/proc/self/limits', 'utf8'); } catch { return ''; } })()): RlimitSpec {
  const m = /^([a-z]+)=([^:]+)(?::(.+))?$/.exec(spec);
  if (!m) throw new FluxError('BAD_ULIMIT', `invalid --ulimit "${spec}".`, { hint: HINT, exitCode: 125 });
  const [, name, softText, hardText] = m as unknown as [string, string, string, string | undefined];
  const res = RESOURCES[name];
  if (!res) throw new FluxError('BAD_ULIMIT', `--ulimit ${spec}: "${name}" is not a limit.`, { hint: `Use one of ${Object.keys(RESOURCES).join(', ')}.`, exitCode: 125 });
  const soft = value(softText, spec);
  const hard = hardText === undefined ? soft : value(hardText, spec);
  if (soft > hard) throw new FluxError('BAD_ULIMIT', `--ulimit ${spec}: the soft limit is above the hard one.`, { hint: HINT, exitCode: 125 });
  const own = currentHard(res[1], limits);
  if (!realRoot && own !== undefined && hard > own) {
    throw new FluxError('BAD_ULIMIT', `--ulimit ${spec} asks for a hard limit above yours (${own === UNLIMITED ? 'unlimited' : own}), which only root may raise.`, {
      hint: `Ask for at most ${own === UNLIMITED ? 'unlimited' : own}, or raise your own limit first (ulimit -H, /etc/security/limits.conf).`,
      exitCode: 125,
    });
  }
  return { resource: res[0], soft, hard };
}
