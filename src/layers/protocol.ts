/** Jobs the unpack worker runs and what it reports, as JSON lines (one per job) on stdout. */
import { FluxError } from '../errors.js';
import type { Digest } from '../image/types.js';

export type Job =
  | { op: 'unpack'; blob: string; mediaType: string; diffId: Digest; dir: string; userXattr: boolean }
  | { op: 'remove'; paths: string[] };

export interface JobError {
  code: string;
  message: string;
  hint?: string;
}

export type JobResult =
  | { ok: true; op: 'unpack'; diffId: Digest; size: number; files: number; warnings: string[] }
  | { ok: true; op: 'remove'; warnings: string[] }
  | { ok: false; error: JobError; warnings: string[] };

export function jobError(e: JobError): FluxError {
  return new FluxError(e.code, e.message, e.hint ? { hint: e.hint } : {});
}
