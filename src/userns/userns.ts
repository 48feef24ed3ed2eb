import { spawn, execFile, type ChildProcess, type StdioOptions, type IOType } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { FluxError } from '../errors.js';
import { lap } from '../timing.js';
import { helperPath, parseRecord, errnoText, printable, type HelperRecord } from '../native/helper.js';
import { mapArgsFor } from './keep-id.js';
import { idMapsFor, mapFailure, singleMapWarning, toolPath, usernsRefused, type IdMaps } from './idmap.js';

export interface UsernsOptions {
  stdio?: StdioOptions;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Do not print the single-id-map warning. */
  quiet?: boolean;
  /** The namespace exists and its id maps are being written (newuidmap and newgidmap started). */
  onMapping?: () => void;
}

export function isRealRoot(): boolean {
  return process.getuid?.() === 0;
}

let warned = false;

/** The single-id-map warning, at most once per flux process (an unpack and a run may both need it). */
export function warnSingleMap(name: string, write: (text: string) => void = (t) => void process.stderr.write(t)): void {
  if (warned) return;
  warned = true;
  write(singleMapWarning(name));
}

/**
 * Write the id maps of the namespace owned by `pid`: newuidmap and newgidmap in parallel with the
 * user's subordinate ranges, or a single-id map (setgroups denied) when there are none.
 */
export async function writeIdMaps(pid: number, maps: IdMaps, quiet = false): Promise<void> {
  if (maps.single) {
    if (!quiet) warnSingleMap(maps.user.name);
    writeFileSync(`/proc/${pid}/setgroups`, 'deny');
    writeFileSync(`/proc/${pid}/uid_map`, `0 ${maps.user.uid} 1\n`);
    writeFileSync(`/proc/${pid}/gid_map`, `0 ${maps.user.gid} 1\n`);
    return;
  }
  const run = (tool: string, args: string[]) =>
    new Promise<void>((resolve, reject) => {
      execFile(tool, [String(pid), ...args], (err, _out, stderr) => {
        if (!err) return resolve();
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          return reject(new FluxError('NO_NEWUIDMAP', `${tool} is not installed.`, { hint: 'Install it: `sudo apt-get install uidmap`.' }));
        }
        reject(mapFailure(tool, String(stderr || err.message), maps.user));
      });
    });
  await Promise.all([
    run('newuidmap', mapArgsFor(maps).uid),
    run('newgidmap', mapArgsFor(maps).gid),
  ]);
}

/** Read newline-separated records from the helper's control socket. */
export function onRecords(sock: Socket, fn: (r: HelperRecord) => void): void {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const rec = parseRecord(line);
      if (rec) fn(rec);
    }
  });
  sock.on('error', () => {
    // the helper closing its end early is reported through its exit status
  });
}

const ELOOP = 40;
const ENOTDIR = 20;

/** The helper could not enter the working directory it looked up inside the container. */
function workdirError(dir: string, errno: number): FluxError {
  const hint = { hint: 'Give -w (or the image\'s WorkingDir) a real directory of the image.' };
  if (errno === ELOOP) {
    return new FluxError('BAD_WORKDIR', `the working directory ${dir} leads through a /proc link to a file descriptor, a working directory or a root (or through a symlink loop), which could lead outside the container.`, hint);
  }
  if (errno === ENOTDIR) return new FluxError('BAD_WORKDIR', `the working directory ${dir} is not a directory.`, hint);
  return new FluxError('BAD_WORKDIR', `the working directory ${dir} cannot be entered: ${errnoText(errno)}.`, hint);
}

/** A helper error record as the one sentence a user sees. */
export function setupError(rec: { op: string; errno: number; path: string }): FluxError {
  if (rec.op === 'unshare' && rec.path === 'user namespace') return usernsRefused(rec.errno);
  if (rec.op === 'workdir') return workdirError(printable(rec.path), rec.errno);
  if (rec.op === 'image symlink') {
    return new FluxError('IMAGE_SYMLINK', `the image has a symlink at ${printable(rec.path)} or on the way to it, where flux mounts the container's own proc, sys or dev, and flux mounts through none.`, {
      hint: 'Use an image whose /proc, /sys and /dev are plain directories (or absent).',
    });
  }
  // The path may be image data (a WorkingDir): shown with its control characters escaped.
  const where = rec.path ? ` ${printable(rec.path)}` : '';
  const text = `${printable(rec.op)}${where}: ${errnoText(rec.errno)}`;
  if (rec.errno === 1 && /mount|unshare|remount|pivot/.test(rec.op)) {
    return new FluxError('SANDBOX_SETUP', `${text}.`, {
      hint: 'Allow it in unprivileged user namespaces: the kernel or a security policy forbids it (AppArmor: set kernel.apparmor_restrict_unprivileged_userns=0).',
    });
  }
  return new FluxError('SANDBOX_SETUP', `${text}.`);
}

function stdioArray(stdio: StdioOptions | undefined): (IOType | 'ipc' | number | null | undefined | import('node:stream').Stream)[] {
  if (stdio === undefined) return ['inherit', 'inherit', 'inherit'];
  if (typeof stdio === 'string') return [stdio, stdio, stdio] as IOType[];
  const a = [...stdio];
  while (a.length < 3) a.push('inherit');
  return a as never;
}

/**
 * `maps` and the newuidmap and newgidmap command lines for the helper, which then runs them itself
 * as soon as its namespace exists (as it does for a run), instead of saying so to this process
 * and waiting for it to run them: a process whose event loop is busy (a pull loading its code)
 * delayed the command's start by that long. A single-id map (no subordinate ranges) is written by
 * this process during the handshake, with its warning.
 */
function helperMapArgs(maps: IdMaps): string[] {
  if (maps.single) return [];
  const args = mapArgsFor(maps);
  const uid = [toolPath('newuidmap'), 'PID', ...args.uid];
  const gid = [toolPath('newgidmap'), 'PID', ...args.gid];
  return ['maps', String(uid.length), ...uid, String(gid.length), ...gid];
}

/**
 * Spawn `argv` as root (uid 0, full capabilities) inside a new user and mount namespace that maps
 * the user's own id to 0 and the subordinate ranges above it. As real root, argv runs directly.
 * Setup failures are emitted as an 'error' event carrying a FluxError (then 'exit' with 125).
 */
export function spawnInUserNamespace(argv: string[], opts: UsernsOptions = {}): ChildProcess {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new FluxError('USAGE', 'no command to run in the user namespace.');
  const base = { env: opts.env ?? process.env, cwd: opts.cwd };
  if (isRealRoot()) return spawn(cmd, args, { ...base, stdio: opts.stdio ?? 'inherit' });

  const maps = idMapsFor();
  const stdio = stdioArray(opts.stdio);
  const ctlIndex = stdio.length;
  const child = spawn(helperPath(), ['userns', String(ctlIndex), ...helperMapArgs(maps), '--', ...argv], { ...base, stdio: [...stdio, 'pipe'] as StdioOptions });
  const ctl = child.stdio[ctlIndex] as Socket | null;
  if (!ctl) return child;
  // The helper maps the ids itself (see helperMapArgs): nothing of this process is awaited.
  if (!maps.single) opts.onMapping?.();
  onRecords(ctl, (rec) => {
    if (rec.kind === 'mapfail') {
      child.emit('error', mapFailure(rec.tool, rec.text, maps.user));
    } else if (rec.kind === 'ready') {
      lap('userns: helper ready');
      const writing = writeIdMaps(child.pid ?? 0, maps, opts.quiet);
      opts.onMapping?.();
      writing.then(
        () => {
          lap('userns: id maps written');
          ctl.write('G\n');
        },
        (err: unknown) => {
          ctl.write('A\n');
          child.emit('error', err);
        },
      );
    } else if (rec.kind === 'error') {
      child.emit('error', setupError(rec));
    } else if (rec.kind === 'exec') {
      child.emit('error', new FluxError('EXEC', `${printable(rec.cmd)}: ${errnoText(rec.errno)}.`, { exitCode: rec.errno === 2 ? 127 : 126 }));
    }
  });
  return child;
}

/** Run `argv` in the user namespace (see spawnInUserNamespace) and wait for it. */
export function runInUserNamespace(argv: string[], opts: UsernsOptions = {}): Promise<{ code: number; signal?: string }> {
  return new Promise((resolve, reject) => {
    let failure: unknown;
    let child: ChildProcess;
    try {
      child = spawnInUserNamespace(argv, opts);
    } catch (err) {
      reject(err);
      return;
    }
    child.on('error', (err) => {
      failure ??= err;
    });
    child.on('close', (code, signal) => {
      if (failure) reject(failure);
      else resolve(signal ? { code: 128 + (constants.signals[signal] ?? 0), signal } : { code: code ?? 0 });
    });
  });
}
