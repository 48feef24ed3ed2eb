/**
 * The unpack worker: run as root inside the user's mapped user namespace, so that chown to the
 * image's ids, mknod of whiteouts and user.overlay.* xattrs do what they would do as root.
 * Reads JobLine JSON lines on stdin and writes a ResultLine as each job finishes, so a pull can
 * start it before it knows its layers and hand each layer over as soon as its blob is verified.
 * Exits once stdin is closed and every job has answered.
 */
import { createInterface } from 'node:readline';
import { lap } from '../timing.js';
import { jobQueue } from './unpack-job.js';
import type { JobLine } from './protocol.js';

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
  lap('unpacker: started');
  const run = jobQueue();
  const pending: Promise<void>[] = [];
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (line.trim() === '') continue;
    const { id, job } = JSON.parse(line) as JobLine;
    pending.push(run(job).then((result) => {
      lap(`unpacker: ${job.op} done`);
      process.stdout.write(`${JSON.stringify({ id, result })}\n`);
    }));
  }
  await Promise.all(pending);
}

main().then(
  // Every answer is written (to a pipe, which Node writes synchronously on Linux): exiting now
  // spares Node's teardown, which the pull would otherwise wait for before it ends.
  () => process.exit(),
  (err: unknown) => {
    process.stderr.write(`flux unpack worker: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 70;
  },
);
