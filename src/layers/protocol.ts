/** Jobs the unpack worker runs and what it reports, as JSON lines: jobs on its stdin, results on its stdout as each finishes. */
import { FluxError } from '../errors.js';
import type { Digest } from '../image/types.js';

export type Job =
  /** Unpacks into `dir`, then renames it to `dest` (see unpack-job.ts for why the unpacker renames). */
  | { op: 'unpack'; blob: string; mediaType: string; diffId: Digest; dir: string; dest: string; userXattr: boolean; follow?: FollowBlob }
  /** The pull's word on a blob an unpack follows: verified (`ok`) or failed (blob-gates.ts). */
  | { op: 'blob'; token: string; ok: boolean }
  | { op: 'remove'; paths: string[] }
  /** Renames a tree whose root only root in the user namespace may move (a read-only directory). */
  | { op: 'rename'; from: string; to: string };

/** An unpack that reads its blob while it downloads: `blob` is then the final path, `partial` the growing one. */
export interface FollowBlob {
  partial: string;
  size: number;
  token: string;
}

export interface JobError {
  code: string;
  message: string;
  hint?: string;
}

export type JobResult =
  | { ok: true; op: 'unpack'; diffId: Digest; size: number; files: number; opaque: string[]; warnings: string[] }
  | { ok: true; op: 'remove'; warnings: string[] }
  | { ok: true; op: 'rename'; warnings: string[] }
  | { ok: true; op: 'blob'; warnings: string[] }
  | { ok: false; error: JobError; warnings: string[] };

export function jobError(e: JobError): FluxError {
  return new FluxError(e.code, e.message, e.hint ? { hint: e.hint } : {});
}

/** A job as one stdin line of the worker: jobs arrive while earlier ones run. */
export interface JobLine {
  id: number;
  job: Job;
}

/** A result as one stdout line of the worker, for the job with the same id. */
export interface ResultLine {
  id: number;
  result: JobResult;
}
