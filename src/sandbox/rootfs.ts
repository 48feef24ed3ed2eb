/**
 * Root filesystem assembly for one run. The image's unpacked layers are read-only lower dirs of
 * an overlay whose upper and work dirs live in `<store>/runs/<id>/` and go when the run ends.
 * The mount itself happens inside the container's own mount namespace (the helper does it), so
 * nothing ever appears in the host's mount table. Kinds, in order of preference: native overlay
 * (userxattr), fuse-overlayfs, a per-run copy of the layers.
 */
import { accessSync, closeSync, constants, mkdirSync, openSync, readdirSync, readSync, rmSync, existsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FluxError } from '../errors.js';
import { fsError } from '../fs-error.js';
import { findExecutable } from '../executables.js';
import { ownerAlive, ownerToken, parseOwner } from '../process-owner.js';
import { RUN_LAYERS_FILE, containerOfRun } from '../container-runs.js';
import type { RootfsSpec } from './plan.js';
import { runInUserNamespace, spawnInUserNamespace, isRealRoot } from '../userns/userns.js';

export type OverlayChoice = 'auto' | 'native' | 'fuse' | 'copy';

export function overlayChoice(env: NodeJS.ProcessEnv = process.env): OverlayChoice {
  const v = env.FLUX_OVERLAY;
  if (v === undefined || v === '' || v === 'auto') return 'auto';
  if (v === 'native' || v === 'fuse' || v === 'copy') return v;
  throw new FluxError('BAD_OVERLAY', `FLUX_OVERLAY=${v} is not a rootfs kind.`, { hint: 'Use FLUX_OVERLAY=native, fuse or copy (or unset it).', exitCode: 125 });
}

export interface RunDir {
  id: string;
  dir: string;
  upper: string;
  work: string;
  root: string;
}

/** `n` random bytes as hex, straight from the kernel: loading node:crypto would cost more than the read. */
export function randomHex(n: number): string {
  const b = Buffer.alloc(n);
  const fd = openSync('/dev/urandom', 'r');
  try {
    readSync(fd, b, 0, n, null);
  } finally {
    closeSync(fd);
  }
  return b.toString('hex');
}

/**
 * runs/<owner>-<random>: the owner (pid, start time, pid namespace, boot; process-owner.ts)
 * tells the next run, and garbage collection, whether this one is still alive. Only the paths:
 * a run chooses them before the sandbox helper starts, which makes upper/, work/ and root/
 * itself while flux reads the image (RunDir paths in the plan).
 */
export function planRunDir(runsDir: string, name?: string): RunDir {
  const id = randomHex(6);
  // A detached container's directory is named after the container (container-runs.ts).
  const dir = join(runsDir, name ?? `${ownerToken()}-${id}`);
  return { id, dir, upper: join(dir, 'upper'), work: join(dir, 'work'), root: join(dir, 'root') };
}

/**
 * Makes the run dir (if the helper has not yet) and writes `layers`, the diff_ids the run uses:
 * written before the caller checks they are present, so `flux rmi`/`flux prune` keep them while
 * the run lives. The helper usually made the file already, empty: it is written in one write,
 * so a reader finds no layers or all of them, never a part.
 */
export function claimRunDir(rd: RunDir, diffIds: readonly string[]): void {
  const file = join(rd.dir, RUN_LAYERS_FILE);
  try {
    mkdirSync(rd.dir, { recursive: true, mode: 0o700 });
    const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, diffIds.map((d) => `${d}\n`).join(''));
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    // A full disk or a read-only store: one sentence naming the file (a write's error names none).
    throw fsError(err, file);
  }
}

/** A run dir made whole here, for a run whose helper does not make it (the copy fallback). */
export function makeRunDir(runsDir: string, diffIds: readonly string[], name?: string): RunDir {
  const rd = planRunDir(runsDir, name);
  mkdirSync(runsDir, { recursive: true, mode: 0o700 });
  claimRunDir(rd, diffIds);
  mkdirSync(rd.upper, { mode: 0o755 });
  mkdirSync(rd.work, { mode: 0o700 });
  mkdirSync(rd.root, { mode: 0o755 });
  return rd;
}

/** The runs dirs this process has already cleaned (see cleanStaleRuns). */
const cleaned = new Set<string>();

/**
 * Run dirs left by runs that died (kill -9 of flux). They hold files owned by the image's sub-uids,
 * so they are removed from inside the user namespace. Once per process and runs dir: a run dir
 * goes stale only when its flux dies, so a later look from this process would find only its own
 * runs and those of other live processes (a matrix of N images would read the runs dir and each
 * owner's /proc entry N times, on the one thread every run's start waits for). Run dirs of
 * processes that die later are left to the next flux process and to `flux prune`.
 */
export async function cleanStaleRuns(runsDir: string): Promise<void> {
  if (cleaned.has(runsDir)) return;
  cleaned.add(runsDir);
  await removeTree(staleRunDirs(runsDir));
}

/** The run dirs of foreground runs whose flux process is gone (paths); never a container's. */
export function staleRunDirs(runsDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(runsDir);
  } catch {
    return [];
  }
  const stale = names.filter((n) => {
    // A container's writable layer stays until the container is removed, whether it runs or not.
    if (containerOfRun(n) !== undefined) return false;
    const o = parseOwner(n.split('-'));
    return !o || !ownerAlive(o.owner);
  });
  return stale.map((n) => join(runsDir, n));
}

/** rm -rf, inside the user namespace when the tree may hold sub-uid files. */
export async function removeTree(paths: string[]): Promise<void> {
  if (paths.length === 0) return;
  if (isRealRoot()) {
    for (const p of paths) rmSync(p, { recursive: true, force: true });
    return;
  }
  try {
    await runInUserNamespace(['rm', '-rf', '--', ...paths], { stdio: 'ignore', quiet: true });
  } catch {
    // Best-effort: the next run tries again.
  }
}

function fuseUsable(): boolean {
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function fuseError(): FluxError {
  if (!existsSync('/dev/fuse')) {
    return new FluxError('NO_FUSE', 'fuse-overlayfs needs /dev/fuse, which this system lacks.', { hint: 'Load the module: `sudo modprobe fuse`, or use FLUX_OVERLAY=copy.' });
  }
  if (!fuseUsable()) {
    return new FluxError('NO_FUSE', '/dev/fuse is not readable and writable by you, so fuse-overlayfs cannot mount.', {
      hint: 'Run `sudo chmod 0666 /dev/fuse` (or install the udev rules of the fuse package), or use FLUX_OVERLAY=copy.',
    });
  }
  return new FluxError('NO_FUSE_OVERLAYFS', 'fuse-overlayfs is not installed.', { hint: 'Install it: `sudo apt-get install fuse-overlayfs`, or use FLUX_OVERLAY=copy.' });
}

/** The rootfs spec for the chosen kind (copy is prepared by prepareCopy). */
export function overlaySpec(choice: 'auto' | 'native' | 'fuse', rd: RunDir, lowers: string[]): RootfsSpec {
  const spec: RootfsSpec = { kind: 'overlay', root: rd.root, upper: rd.upper, work: rd.work, lowers, userxattr: !isRealRoot() };
  if (choice === 'native') return spec;
  const bin = findExecutable('fuse-overlayfs', ['/usr/bin', '/usr/local/bin']);
  if (choice === 'fuse') {
    if (!bin || !fuseUsable()) throw fuseError();
    return { ...spec, fuse: { bin, only: true } };
  }
  if (bin && fuseUsable()) return { ...spec, fuse: { bin, only: false } };
  return spec;
}

/**
 * The last resort: a per-run copy of the layers with whiteouts and opaque dirs applied, made
 * inside the user namespace (it keeps the image's owners), then bind-mounted as the root.
 */
export async function prepareCopy(rd: RunDir, lowers: string[]): Promise<RootfsSpec> {
  const dest = join(rd.dir, 'copy');
  const worker = fileURLToPath(new URL('./copy-rootfs.js', import.meta.url));
  const bottomFirst = [...lowers].reverse();
  const r = await runCopyWorker([process.execPath, worker, dest, ...bottomFirst]);
  if (r.code !== 0) {
    const why = r.lastLine ? `: ${r.lastLine.replace(/\.$/, '')}` : ` (exit ${r.code})`;
    throw new FluxError('COPY_ROOTFS', `copying the image's layers into ${dest} failed${why}.`, { hint: 'Check free space in the store, or try FLUX_OVERLAY=native.' });
  }
  return { kind: 'copy', src: dest, root: rd.root };
}

/** Runs the copy worker with its stderr captured: its last line becomes part of flux's one error. */
function runCopyWorker(argv: string[]): Promise<{ code: number; lastLine: string }> {
  return new Promise((resolve, reject) => {
    let failure: unknown;
    let err = '';
    const child = spawnInUserNamespace(argv, { stdio: ['ignore', 'ignore', 'pipe'], quiet: true });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      err = (err + chunk).slice(-4096);
    });
    child.on('error', (e) => {
      failure ??= e;
    });
    child.on('close', (code, signal) => {
      if (failure) return reject(failure);
      const lastLine = err.trim().split('\n').pop()?.trim() ?? '';
      resolve({ code: signal ? 128 : (code ?? 0), lastLine });
    });
  });
}
