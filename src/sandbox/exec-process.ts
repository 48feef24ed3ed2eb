/**
 * Starts a process in a running container through the helper's exec mode: it joins the
 * namespaces and root of `target` (a process of the container) and starts the command with the
 * settings given here, the same steps as a run's command takes (user, seccomp, capabilities,
 * no_new_privs, only fds 0-2).
 */
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { FluxError } from '../errors.js';
import { errnoText, helperPath, printable } from '../native/helper.js';
import { onRecords, setupError } from '../userns/userns.js';
import type { RlimitSpec } from './plan.js';

/** What the command's process runs as and with: a run's command's, and an exec'd process's too. */
export interface ProcessSettings {
  uid: number;
  gid: number;
  groups: number[];
  /** A capability mask (hex) or 'all'. */
  caps: string;
  noNewPrivileges: boolean;
  seccomp: boolean;
  path: string;
  env: string[];
  cwd: string;
}

export interface ExecSpec extends ProcessSettings {
  target: number;
  argv: string[];
  /** Resource limits the command starts with (the container's RLIMIT_NPROC for --pids-limit). */
  rlimits?: RlimitSpec[];
  interactive: boolean;
  /** A terminal (-t): the command's 0-2 are a pty of the container's, relayed by the helper. */
  tty?: { stdin: boolean; rows: number; cols: number };
  /**
   * Where the command's output goes. false from one: that destination is gone (its reader closed
   * it), and the command's stream is closed too, so its next write fails as one to a closed pipe.
   */
  output?: ExecOutput;
}

export interface ExecOutput {
  stdout(chunk: Buffer): boolean | void;
  stderr(chunk: Buffer): boolean | void;
}

/** The process part of a plan, as the helper's exec mode reads it from its command line. */
export function execPlan(s: ExecSpec): string[] {
  // Tokens travel as arguments: none may hold a NUL (the kernel would cut it there).
  const clean = (t: string) => t.replaceAll('\0', '');
  return [
    'cwd', s.cwd,
    'user', String(s.uid), String(s.gid), String(s.groups.length), ...s.groups.map(String),
    'caps', s.caps,
    ...(s.noNewPrivileges ? ['nnp'] : []),
    ...(s.seccomp ? ['seccomp'] : []),
    ...(s.rlimits?.length ? ['rlimits', String(s.rlimits.length), ...s.rlimits.flatMap((r) => [String(r.resource), String(r.soft), String(r.hard)])] : []),
    ...(s.tty ? ['tty', s.tty.stdin ? '1' : '0', String(s.tty.rows), String(s.tty.cols)] : []),
    'path', s.path,
    'env', String(s.env.length), ...s.env,
    'argv', String(s.argv.length), ...s.argv,
  ].map(clean);
}

const ENOENT = 2;

/** An exec makes no directory in the running container (a run makes a missing one): a missing one is refused. */
function missingWorkdir(path: string): FluxError {
  return new FluxError('BAD_WORKDIR', `the working directory ${printable(path)} does not exist in the container.`, { hint: 'Give -w a directory that exists there, or make it first (mkdir -p).' });
}

/** Runs the command to its end; resolves with its exit status, rejects when it could not start. */
export async function execProcess(s: ExecSpec): Promise<number> {
  const out = s.output;
  const child = spawn(helperPath(), ['exec', '3', String(s.target), ...execPlan(s)], {
    stdio: [s.interactive ? 'inherit' : 'ignore', out ? 'pipe' : 'inherit', out ? 'pipe' : 'inherit', 'pipe'],
  });
  // The host's terminal passes every key to the container's, as with run -it.
  const raw = s.tty !== undefined && s.interactive && !out && process.stdin.isTTY === true;
  if (raw) process.stdin.setRawMode(true);
  if (out) {
    child.stdout?.on('data', (c: Buffer) => out.stdout(c) === false && child.stdout?.destroy());
    child.stderr?.on('data', (c: Buffer) => out.stderr(c) === false && child.stderr?.destroy());
  }
  let failure: FluxError | undefined;
  onRecords(child.stdio[3] as Socket, (rec) => {
    if (rec.kind === 'error') failure ??= rec.op === 'workdir' && rec.errno === ENOENT ? missingWorkdir(rec.path) : setupError(rec);
    if (rec.kind === 'exec') {
      failure ??= rec.errno === 2
        ? new FluxError('EXEC_NOT_FOUND', `${printable(rec.cmd)}: executable file not found in $PATH.`, { hint: 'Check the command name, or the image\'s PATH.', exitCode: 127 })
        : new FluxError('EXEC_DENIED', `${printable(rec.cmd)}: ${errnoText(rec.errno).toLowerCase()}.`, { hint: 'Run a file the container can execute: a binary for its platform, or a script with a #! line.', exitCode: 126 });
    }
  });
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', (err) => reject(new FluxError('HELPER', `cannot start the sandbox helper: ${err.message}.`, { hint: 'Rebuild it with `npm run build`.' })));
    child.on('close', (c, sig) => resolve(sig ? 128 + 9 : (c ?? 125)));
  });
  if (raw) process.stdin.setRawMode(false);
  if (failure) throw failure;
  return code;
}
