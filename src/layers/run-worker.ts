/**
 * Runs jobs where they can do their work: in this process as real root, else in a Node worker
 * that runs as root inside the user's mapped user namespace, made by flux's own helper with the
 * same id map as a run (0 → the user, 1… → the subordinate ranges; a single-id map, with one
 * warning, when there are none).
 */
import { fileURLToPath } from 'node:url';
import { FluxError } from '../errors.js';
import { isRealRoot, spawnInUserNamespace } from '../sandbox/userns.js';
import type { Job, JobResult } from './protocol.js';

export { isRealRoot };

export async function runJobs(jobs: Job[]): Promise<JobResult[]> {
  if (jobs.length === 0) return [];
  if (isRealRoot()) {
    const { runJobsHere } = await import('./run-job.js');
    return runJobsHere(jobs);
  }
  return runInWorker(jobs);
}

async function runInWorker(jobs: Job[]): Promise<JobResult[]> {
  const worker = fileURLToPath(new URL('./worker.js', import.meta.url));
  // The helper execs the worker in place, so the worker's parent is this process and its
  // parent-death check keeps working.
  const child = spawnInUserNamespace([process.execPath, worker], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(JSON.stringify({ jobs }));
  let failure: unknown;
  const code = await new Promise<number | null>((resolve) => {
    child.on('error', (err) => {
      failure ??= err;
      // A spawn failure emits no 'close'.
      if (child.pid === undefined) resolve(null);
    });
    child.on('close', (c) => resolve(c));
  });
  const results: JobResult[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    try {
      results.push(JSON.parse(line) as JobResult);
    } catch {
      // not a result line
    }
  }
  if (results.length === jobs.length) return results;
  throw workerError(failure, code, stderr);
}

function workerError(failure: unknown, code: number | null, stderr: string): FluxError {
  if (failure instanceof FluxError) return failure;
  if (failure !== undefined) {
    return new FluxError('UNPACK_WORKER', `flux could not start the layer unpacker (${(failure as Error).message ?? String(failure)}).`, {
      hint: 'Rebuild flux with `npm run build` so that native/build/flux-helper exists.',
    });
  }
  const why = stderr.trim().split('\n').filter(Boolean).slice(-2).join(' ') || `exit status ${code}`;
  return new FluxError('UNPACK_WORKER', `The layer unpacker stopped unexpectedly (${why}).`, {
    hint: 'Run the command again; layers that were not finished are discarded and unpacked anew.',
  });
}
