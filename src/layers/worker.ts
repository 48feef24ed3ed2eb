/**
 * The unpack worker: run as root inside the user's mapped user namespace, so that chown to the
 * image's ids, mknod of whiteouts and user.overlay.* xattrs do what they would do as root.
 * Reads `{ jobs: Job[] }` as JSON on stdin and writes one JobResult JSON line per job to
 * stdout, in job order.
 */
import { runJobsHere } from './run-job.js';
import type { Job } from './protocol.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Stops when the flux process that started us dies: its temp directories are then swept by the next run. */
function exitWithParent(): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(75);
  }, 300).unref();
}

async function main(): Promise<void> {
  process.umask(0o022);
  exitWithParent();
  const { jobs } = JSON.parse(await readStdin()) as { jobs: Job[] };
  for (const r of await runJobsHere(jobs)) process.stdout.write(`${JSON.stringify(r)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`flux unpack worker: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 70;
});
