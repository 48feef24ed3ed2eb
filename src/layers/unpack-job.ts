/** Runs one job in this process: inside the worker (in the user namespace), or directly as real root. */
import { createReadStream, renameSync, rmSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { applyLayer } from '../../store/unpack/apply-layer.js';
import { FluxError } from '../errors.js';
import { fsError } from '../fs-error.js';
import { nativeLayerFs } from '../native/ffi.js';
import { followBlob, gateVerified, notVerified, settleGate } from './blob-gates.js';
import { layerInfoPath, writeLayerInfo } from './layer-info.js';
import type { Job, JobResult } from './protocol.js';
import { lap } from '../timing.js';

export async function runJob(job: Job): Promise<JobResult> {
  const warnings: string[] = [];
  try {
    if (job.op === 'remove') {
      for (const p of job.paths) rmSync(p, { recursive: true, force: true, maxRetries: 2 });
      return { ok: true, op: 'remove', warnings };
    }
    if (job.op === 'rename') {
      renameSync(job.from, job.to);
      return { ok: true, op: 'rename', warnings };
    }
    if (job.op === 'blob') {
      settleGate(job.token, job.ok);
      return { ok: true, op: 'blob', warnings };
    }
    const follow = job.follow;
    lap(follow ? 'unpacker: unpack following its blob' : 'unpacker: unpack of a stored blob');
    const fs = await nativeLayerFs();
    const input = follow
      ? Readable.from(followBlob(follow.partial, job.blob, follow.size, follow.token), { objectMode: false })
      : createReadStream(job.blob, { highWaterMark: 256 * 1024 });
    const r = await applyLayer(input, {
      dir: job.dir,
      mediaType: job.mediaType,
      expectedDiffId: job.diffId,
      userXattr: job.userXattr,
      fs,
      onWarning: (m) => warnings.push(m),
    });
    // A followed blob: its diff_id verified, but the layer moves into layers/ only once the
    // pull says the blob's own digest did too.
    if (follow && !(await gateVerified(follow.token))) {
      rmSync(job.dir, { recursive: true, force: true, maxRetries: 2 });
      throw notVerified();
    }
    // The info first (its size, and its opaque directories, which a run reads to find the
    // image's /etc/passwd): once the layer is in layers/, it is never without its info, whatever
    // stops this process. A crash between the two leaves only an info without a layer, which
    // the next unpack of that layer rewrites and `flux prune` removes.
    try {
      await writeLayerInfo(job.dest, { size: r.size, files: r.files, xattr: job.userXattr ? 'user' : 'trusted', opaque: r.opaque });
    } catch (err) {
      rmSync(job.dir, { recursive: true, force: true, maxRetries: 2 });
      throw err;
    }
    // Here, not in flux's own process: moving a directory to another parent changes its `..`,
    // which needs write permission on the directory itself, and a layer root the image made
    // read-only (0555, as Fedora's and RHEL's are) grants that only to root in the namespace
    // that owns it. The layer keeps its modes and still appears in layers/ whole or not at all.
    try {
      renameSync(job.dir, job.dest);
    } catch (err) {
      rmSync(job.dir, { recursive: true, force: true, maxRetries: 2 });
      // The layer was there already, without its info (left so by an older flux): this unpack
      // verified the same diff_id, so the info just written is its own.
      if (!statSync(job.dest, { throwIfNoEntry: false })?.isDirectory()) {
        rmSync(layerInfoPath(job.dest), { force: true });
        throw err;
      }
    }
    return { ok: true, op: 'unpack', diffId: r.diffId, size: r.size, files: r.files, opaque: r.opaque, warnings };
  } catch (err) {
    err = fsError(err);
    if (err instanceof FluxError) {
      return { ok: false, error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) }, warnings };
    }
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, error: { code: 'UNPACK_FAILED', message: `Unpacking failed: ${message}.` }, warnings };
  }
}

/**
 * Runs jobs here as they are handed in, two at a time. Two interleaved unpacks overlap one's
 * decompression with the other's file creation; measured on this machine's ext4 (2 × 3000 small
 * files) they were never slower than one after the other and up to twice as fast. More would
 * only queue on the same disk and two cores: measured again with 1 to 4 layers at once, 3 and 4
 * were no faster than 2 (docs/performance.md).
 */
export function jobQueue(concurrency = 2): (job: Job) => Promise<JobResult> {
  const waiting: Array<() => void> = [];
  let running = 0;
  return async (job) => {
    // A gate's message never waits for a slot: the unpacks holding the slots may wait for it.
    if (job.op === 'blob') return runJob(job);
    if (running >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await runJob(job);
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

/** Runs `jobs` here, results in job order: removals first, then the unpacks (see jobQueue). */
export async function runJobsHere(jobs: Job[], concurrency = 2): Promise<JobResult[]> {
  const results: JobResult[] = new Array<JobResult>(jobs.length);
  for (const [i, j] of jobs.entries()) if (j.op === 'remove') results[i] = await runJob(j);
  const run = jobQueue(concurrency);
  await Promise.all(jobs.map(async (j, i) => {
    if (j.op !== 'remove') results[i] = await run(j);
  }));
  return results;
}
