/**
 * Runs jobs where they can do their work: in this process as real root, else in a Node worker
 * that runs as root inside the user's mapped user namespace.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FluxError } from '../errors.js';
import type { Job, JobResult } from './protocol.js';
import { usernsPlan } from './userns-exec.js';

export const isRealRoot = (): boolean => process.geteuid?.() === 0;

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
  const [cmd, ...args] = [...usernsPlan().prefix, '--', process.execPath, worker];
  const child = spawn(cmd as string, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.on('error', () => undefined);
  child.stdin.end(JSON.stringify({ jobs }));
  const [code, spawnErr] = await new Promise<[number | null, Error | undefined]>((resolve) => {
    child.on('error', (err) => resolve([null, err]));
    child.on('close', (c) => resolve([c, undefined]));
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
  throw usernsError(spawnErr, code, stderr);
}

function usernsError(spawnErr: Error | undefined, code: number | null, stderr: string): FluxError {
  if (spawnErr) {
    return new FluxError('USERNS_UNAVAILABLE', `flux could not start unshare to enter a user namespace (${spawnErr.message}).`, {
      hint: 'Install util-linux (unshare) and uidmap (newuidmap, newgidmap).',
    });
  }
  const why = stderr.trim().split('\n').filter(Boolean).slice(-2).join(' ') || `exit status ${code}`;
  if (/unrecognized option|invalid option/.test(why)) {
    return new FluxError('USERNS_UNAVAILABLE', `This unshare cannot map subordinate ids (${why}).`, {
      hint: 'flux needs util-linux 2.38 or newer (unshare --map-users); upgrade util-linux.',
    });
  }
  if (/newuidmap|newgidmap|uid_map|gid_map/.test(why)) {
    return new FluxError('USERNS_MAP', `flux could not map your subordinate ids into a user namespace (${why}).`, {
      hint: 'Check that newuidmap and newgidmap are setuid root (or have file capabilities) and that /etc/subuid and /etc/subgid give you a range.',
    });
  }
  if (/Operation not permitted|Permission denied|unshare failed/i.test(why)) {
    return new FluxError('USERNS_DENIED', `The system does not let you create a user namespace (${why}).`, {
      hint: 'Enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 23.10+ kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile for flux).',
    });
  }
  return new FluxError('UNPACK_WORKER', `The layer unpacker stopped unexpectedly (${why}).`, {
    hint: 'Run the command again; layers that were not finished are discarded and unpacked anew.',
  });
}
