/**
 * Runs jobs where they can do their work: in this process as real root, else in a Node worker
 * that runs as root inside the user's mapped user namespace, made by flux's own helper with the
 * same id map as a run (0 → the user, 1… → the subordinate ranges; a single-id map, with one
 * warning, when there are none).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FluxError } from '../errors.js';
import { lap, timingEnv, timingOn } from '../timing.js';
import { isRealRoot, spawnInUserNamespace } from '../userns/userns.js';
import type { Job, JobLine, JobResult, ResultLine } from './protocol.js';

export { isRealRoot };

/** Hands jobs to wherever they can run, as they come; see startJobRunner. */
export interface JobRunner {
  /**
   * Settles once the worker's id maps are being written (at once where there is no worker). A
   * caller about to block its event loop (loading the HTTP client) waits for it first: the maps
   * are written by processes this one starts, which would otherwise wait for the loop too.
   */
  mapping: Promise<void>;
  run(job: Job): Promise<JobResult>;
  /** No more jobs: resolves once every job has answered and the worker is gone. */
  close(): Promise<void>;
  /** Stops the worker now, for a pull that failed; jobs still running are answered with an error. */
  abort(): Promise<void>;
}

export async function runJobs(jobs: Job[]): Promise<JobResult[]> {
  if (jobs.length === 0) return [];
  if (isRealRoot()) {
    const { runJobsHere } = await import('./unpack-job.js');
    return runJobsHere(jobs);
  }
  const runner = startJobRunner();
  try {
    // Removals first, as a worker run always did: they clear leftovers the unpacks may meet.
    const removals = await Promise.all(jobs.filter((j) => j.op === 'remove').map((j) => runner.run(j)));
    const unpacks = await Promise.all(jobs.filter((j) => j.op !== 'remove').map((j) => runner.run(j)));
    return jobs.map((j) => (j.op === 'remove' ? removals.shift() : unpacks.shift()) as JobResult);
  } finally {
    await runner.close();
  }
}

/**
 * Starts the place jobs run: this process as real root, else the worker, at once, so that its
 * start-up (a Node process and the id maps, ~0.1 s) overlaps whatever the caller does next.
 * As real root there is nothing to overlap: the unpacking code (tar-stream and its modules, read
 * and compiled without a code cache) is loaded at the first job, not before a pull's first request,
 * which a synchronous require would otherwise hold back by several ms.
 */
export function startJobRunner(): JobRunner {
  if (isRealRoot()) {
    let queue: Promise<(job: Job) => Promise<JobResult>> | undefined;
    const load = () =>
      import('./unpack-job.js').then(({ jobQueue }) => {
        lap('unpack code loaded in this process');
        return jobQueue();
      });
    return { mapping: Promise.resolve(), run: async (job) => (await (queue ??= load()))(job), close: async () => undefined, abort: async () => undefined };
  }
  try {
    return workerRunner();
  } catch (err) {
    // A helper or newuidmap that is missing matters only once there is something to unpack.
    return { mapping: Promise.resolve(), run: () => Promise.reject(err), close: async () => undefined, abort: async () => undefined };
  }
}

/**
 * The worker's script. From the bundle (this module is then a CommonJS chunk under dist/chunks/,
 * where `__filename` exists) it is the worker's own bundle, dist/unpack-worker.cjs, made by the
 * same build: one file to read and compile instead of two dozen ES modules. Unbundled, it is the
 * tsc output.
 */
function workerScript(): string {
  if (typeof __filename === 'string' && __filename.endsWith('.cjs')) {
    const bundled = join(dirname(__filename), '..', 'unpack-worker.cjs');
    if (existsSync(bundled)) return bundled;
  }
  return fileURLToPath(new URL('./unpack-worker-main.js', import.meta.url));
}

function workerRunner(): JobRunner {
  const worker = workerScript();
  // The helper execs the worker in place, so the worker's parent is this process and its
  // parent-death check keeps working.
  let mapped: () => void = () => undefined;
  const mapping = new Promise<void>((resolve) => (mapped = resolve));
  const child = spawnInUserNamespace([process.execPath, worker], { stdio: ['pipe', 'pipe', 'pipe'], onMapping: () => mapped(), ...(timingOn ? { env: { ...process.env, ...timingEnv() } } : {}) });
  lap('unpacker spawned');
  const pending = new Map<number, { resolve: (r: JobResult) => void; reject: (e: unknown) => void }>();
  let nextId = 0;
  let stdout = '';
  let stderr = '';
  let failure: unknown;
  let ended: FluxError | undefined;
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    let nl: number;
    while ((nl = stdout.indexOf('\n')) >= 0) {
      const line = stdout.slice(0, nl);
      stdout = stdout.slice(nl + 1);
      let msg: ResultLine;
      try {
        msg = JSON.parse(line) as ResultLine;
      } catch {
        continue; // not a result line
      }
      pending.get(msg.id)?.resolve(msg.result);
      pending.delete(msg.id);
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    // FLUX_TIMING=1: the worker's own laps go where flux's go.
    if (timingOn) for (const l of d.split('\n')) if (l.startsWith('flux: timing: ')) process.stderr.write(`${l}\n`);
    stderr = (stderr + d).slice(-4096);
  });
  child.stdin?.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => {
    const done = (code: number | null): void => {
      mapped();
      ended ??= workerError(failure, code, stderr);
      for (const p of pending.values()) p.reject(ended);
      pending.clear();
      resolve();
    };
    child.on('error', (err) => {
      failure ??= err;
      // A spawn failure emits no 'close'.
      if (child.pid === undefined) done(null);
    });
    child.on('close', (c) => done(c));
  });
  return {
    mapping,
    run(job) {
      if (ended) return Promise.reject(ended);
      const id = nextId++;
      return new Promise<JobResult>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.stdin?.write(`${JSON.stringify({ id, job } satisfies JobLine)}\n`);
      });
    },
    async close() {
      child.stdin?.end();
      await closed;
    },
    async abort() {
      if (!ended) child.kill('SIGKILL');
      await closed;
    },
  };
}

function workerError(failure: unknown, code: number | null, stderr: string): FluxError {
  if (failure instanceof FluxError) return failure;
  if (failure !== undefined) {
    return new FluxError('UNPACK_WORKER', `flux could not start the layer unpacker (${(failure as Error).message ?? String(failure)}).`, {
      hint: 'Rebuild flux with `npm run build` so that native/build/flux-helper exists.',
    });
  }
  const why = stderr.trim().split('\n').filter(Boolean).slice(-2).join(' ') || `exit status ${code}`;
  return new FluxError('UNPACK_WORKER', `the layer unpacker stopped unexpectedly (${why}).`, {
    hint: 'Run the command again; layers that were not finished are discarded and unpacked anew.',
  });
}
