/**
 * `flux exec`: a command in a running detached container, started like the container's own
 * command (its user, capabilities, seccomp filter, no_new_privs and environment, which the
 * monitor recorded), in its namespaces and root.
 */
import { readLayerFile } from '../sandbox/layer-files.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FluxError } from '../errors.js';
import { parseGroup, parsePasswd, resolveUser } from '../image/user.js';
import { execProcess, type ExecOutput } from '../sandbox/exec-process.js';
import { nprocRlimit } from '../sandbox/nproc-rlimit.js';
import type { ProcessProfile } from './run-types.js';
import { checkWorkdir, terminalEnv } from './process-spec.js';
import { current, joinableProcess } from './container-ops.js';
import { stateDir, type ContainerState } from './container-state.js';

export interface ExecOptions {
  /** `K=V`, or a bare `K` for the host's value. */
  env: string[];
  user?: string;
  workdir?: string;
  interactive: boolean;
  /** A terminal for the command (-t). */
  tty?: boolean;
  output?: ExecOutput;
}

const notRunning = (name: string) =>
  new FluxError('CONTAINER_NOT_RUNNING', `the container ${name} is not running.`, { hint: `Start a new one with flux run -d; flux logs ${name} shows how it ended.`, exitCode: 125 });

/**
 * A small file of the running container (its /etc/passwd or /etc/group), resolved inside the
 * container's root as run resolves it inside the image: reading `/proc/PID/root/etc/passwd`
 * directly would follow an absolute symlink the container planted there (`/etc/passwd ->
 * /root/secret`) into this process's own root, the host's. A regular file only, of bounded size.
 */
function readIn(pid: number, file: string): string {
  return readLayerFile([`/proc/${pid}/root`], file) ?? '';
}

export async function execInContainer(root: string, s: ContainerState, cmd: string[], o: ExecOptions): Promise<number> {
  if (cmd.length === 0) throw new FluxError('USAGE', 'flux exec needs a command.', { hint: 'Write flux exec CONTAINER COMMAND [ARG...].', exitCode: 125 });
  if (current(s).status !== 'running') throw notRunning(s.name);
  if (o.tty && o.interactive) (await import('./stdin-terminal.js')).checkInteractiveTerminal();
  let profile: ProcessProfile;
  try {
    profile = JSON.parse(readFileSync(join(stateDir(root, s.id), 'process.json'), 'utf8')) as ProcessProfile;
  } catch {
    throw notRunning(s.name);
  }
  const target = joinableProcess(s);
  if (target === undefined) throw notRunning(s.name);
  let user = { uid: profile.uid, gid: profile.gid, groups: profile.groups };
  const env = new Map(profile.env.map((e) => [e.slice(0, e.indexOf('=')), e] as const));
  if (o.user !== undefined) {
    const other = resolveUser(o.user, parsePasswd(readIn(target, 'etc/passwd')), parseGroup(readIn(target, 'etc/group')));
    user = { uid: other.uid, gid: other.gid, groups: other.groups };
    // The run's HOME was its user's (nothing else set it): this user's home replaces it, as with run -u.
    if (profile.homeFromUser) env.set('HOME', `HOME=${other.home}`);
  }
  // As run -t sets it; -e below still wins.
  if (o.tty) env.set('TERM', terminalEnv(process.env));
  for (const e of o.env) {
    const eq = e.indexOf('=');
    const key = eq < 0 ? e : e.slice(0, eq);
    if (key === '') throw new FluxError('BAD_ENV', `-e ${e} has no variable name.`, { hint: 'Write -e NAME=VALUE.', exitCode: 125 });
    if (eq >= 0) env.set(key, e);
    else if (process.env[key] !== undefined) env.set(key, `${key}=${process.env[key]}`);
  }
  return execProcess({
    target,
    ...user,
    caps: profile.caps,
    noNewPrivileges: profile.noNewPrivileges,
    seccomp: profile.seccomp,
    path: profile.path,
    env: [...env.values()],
    // Absolute, as docker exec -w must be; a missing directory is the helper's error (nothing is made).
    cwd: o.workdir !== undefined ? checkWorkdir(o.workdir) : profile.cwd,
    argv: cmd,
    // Counted in the container's user namespace, the exec'd processes share the container's --pids-limit.
    ...(profile.nproc !== undefined ? { rlimits: [nprocRlimit(profile.nproc, user.uid)] } : {}),
    interactive: o.interactive,
    ...(o.tty ? { tty: { stdin: o.interactive, rows: process.stdout.rows ?? 0, cols: process.stdout.columns ?? 0 } } : {}),
    ...(o.output ? { output: o.output } : {}),
  });
}
