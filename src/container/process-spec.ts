/**
 * The process a container runs, decided from the image's config and the run's options alone: its
 * argv (docker's Entrypoint/Cmd rule), environment, working directory and PATH. Pure apart from
 * the existence check of a volume's host path: no sandbox, no store, unit-tested on its own.
 */
import { posix } from 'node:path';
import { FluxError } from '../errors.js';
import type { ImageConfig } from '../image/types.js';
import type { ResolvedUser } from '../image/user.js';
import { entrypointArgv } from './entrypoint.js';

export { parseVolume } from './volume-options.js';

type ContainerConfig = NonNullable<ImageConfig['config']>;

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const bad = (code: string, message: string, hint: string) => new FluxError(code, message, { hint, exitCode: 125 });

/** docker's argv rule: --entrypoint replaces Entrypoint and drops the image's Cmd. */
export function commandLine(config: ImageConfig['config'], cmd: string[], entrypoint: string | undefined): string[] {
  const c = config ?? {};
  let ep = c.Entrypoint ?? [];
  let args = cmd.length > 0 ? cmd : (c.Cmd ?? []);
  if (entrypoint !== undefined) {
    ep = entrypointArgv(entrypoint);
    if (cmd.length === 0) args = [];
  }
  return [...ep, ...args];
}

/** `K=V`, or bare `K` taking the host's value (dropped when the host has none). */
export function envEntry(raw: string, host: NodeJS.ProcessEnv): string | undefined {
  const eq = raw.indexOf('=');
  if (eq === 0) throw bad('BAD_ENV', `invalid environment variable "${raw}": the name is empty.`, 'Write -e NAME=VALUE or -e NAME.');
  if (eq > 0) return raw;
  const v = host[raw];
  return v === undefined ? undefined : `${raw}=${v}`;
}

export function parseEnvFile(text: string, host: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const l = line.replace(/\r$/, '');
    if (l.trim() === '' || l.trimStart().startsWith('#')) continue;
    const e = envEntry(l.trimStart(), host);
    if (e !== undefined) out.push(e);
  }
  return out;
}

/** Later entries win; order of first appearance is kept. */
export function mergeEnv(...lists: string[][]): string[] {
  const m = new Map<string, string>();
  for (const list of lists) {
    for (const e of list) {
      const eq = e.indexOf('=');
      const k = eq < 0 ? e : e.slice(0, eq);
      m.set(k, e);
    }
  }
  return [...m.values()];
}

/**
 * A working directory must be absolute and never a file-descriptor path (CVE-2024-21626). A first
 * filter only: the helper looks the directory up inside the root without following magic links.
 */
export function checkWorkdir(dir: string): string {
  if (!dir.startsWith('/')) throw bad('BAD_WORKDIR', `the working directory "${dir}" is not absolute.`, 'Give -w an absolute path inside the container.');
  const n = posix.normalize(dir);
  if (/^\/proc\/(self|thread-self|\d+)(\/task\/\d+)?\/fd(\/|$)/.test(n) || /^\/proc\/(self|thread-self|\d+)\/cwd(\/|$)/.test(n)) {
    throw bad('BAD_WORKDIR', `the working directory ${dir} is a file-descriptor path, which could lead outside the container.`, 'Use a real directory of the image.');
  }
  return n;
}

export function parseSecurityOpts(list: string[]): { noNewPrivileges: boolean; seccomp: boolean } {
  let nnp = false;
  let seccomp = true;
  for (const s of list) {
    if (s === 'no-new-privileges' || s === 'no-new-privileges=true' || s === 'no-new-privileges:true') nnp = true;
    else if (s === 'no-new-privileges=false' || s === 'no-new-privileges:false') nnp = false;
    else if (s === 'seccomp=unconfined' || s === 'seccomp:unconfined') seccomp = false;
    else throw bad('BAD_SECURITY_OPT', `unsupported --security-opt "${s}".`, 'flux supports --security-opt no-new-privileges and seccomp=unconfined.');
  }
  return { noNewPrivileges: nnp, seccomp };
}


/** What the run's options say about the process, before the image is known. */
export interface ProcessOptions {
  /** Replaces the image's Cmd (and keeps its Entrypoint); empty: the image's. */
  cmd: string[];
  entrypoint?: string;
  workdir?: string;
  /** `-e` entries (`K=V`, or bare `K` from the host), then the env files' entries before them. */
  env: string[];
  fileEnv: string[];
  tty: boolean;
  /** --unsetenv: names dropped last, whoever set them. */
  unset?: string[];
}

export interface ProcessSpec {
  argv: string[];
  env: string[];
  cwd: string;
  /** The PATH the helper looks the command up in. */
  path: string;
  /** HOME is the user's home from passwd, which nothing else set (see ProcessProfile.homeFromUser). */
  homeFromUser: boolean;
}

/** TERM for a command given a terminal (run -t, exec -t): the host's, or xterm when it has none or a dumb one. */
export function terminalEnv(host: NodeJS.ProcessEnv): string {
  return `TERM=${host.TERM && host.TERM !== 'dumb' ? host.TERM : 'xterm'}`;
}

/**
 * Merges the image's config and the run's options. Later wins: flux's defaults (PATH, container=flux), the image's Env,
 * HOSTNAME, HOME (unless the image sets it), TERM for a terminal, the env files, then `-e`.
 * Returns undefined argv when neither the run nor the image names a command.
 */
export function processSpec(config: ContainerConfig | undefined, o: ProcessOptions, user: Pick<ResolvedUser, 'home'>, hostname: string, host: NodeJS.ProcessEnv): ProcessSpec {
  const c = config ?? {};
  const argv = commandLine(c, o.cmd, o.entrypoint);
  const cwd = checkWorkdir(o.workdir ?? (c.WorkingDir || '/'));
  const cliEnv = o.env.map((e) => envEntry(e, host)).filter((e): e is string => e !== undefined);
  const setsHome = (list: string[]) => list.some((e) => e.startsWith('HOME='));
  const env = mergeEnv(
    // container=flux: what systemd and others read to know they run in a container (podman sets container=podman).
    [`PATH=${DEFAULT_PATH}`, 'container=flux'],
    c.Env ?? [],
    [`HOSTNAME=${hostname}`],
    setsHome(c.Env ?? []) ? [] : [`HOME=${user.home}`],
    o.tty ? [terminalEnv(host)] : [],
    o.fileEnv,
    cliEnv,
  );
  const path = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  const unset = new Set(o.unset ?? []);
  const homeFromUser = ![c.Env ?? [], o.fileEnv, cliEnv].some(setsHome) && !unset.has('HOME');
  return { argv, env: unset.size > 0 ? env.filter((e) => !unset.has(e.slice(0, e.indexOf('=')))) : env, cwd, path, homeFromUser };
}
