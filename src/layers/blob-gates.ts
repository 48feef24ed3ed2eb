/**
 * A layer unpacked while its blob still downloads: the unpacker reads the blob's partial file as
 * it grows, and the pull says through a gate whether the blob's digest verified. The layer is
 * renamed into layers/ only once the gate is open (and its own diff_id verified); a gate that
 * fails stops the read and discards the unpack, so nothing unverified ever reaches layers/.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { FluxError, errnoCode } from '../errors.js';

interface Gate {
  state: 'open' | 'verified' | 'failed';
  settled: Promise<boolean>;
  settle(ok: boolean): void;
}

// Keyed by a token the pull makes per streamed blob: the message may arrive before the unpack
// job that waits for it has left the queue.
const gates = new Map<string, Gate>();

function gate(token: string): Gate {
  let g = gates.get(token);
  if (!g) {
    let settle: (ok: boolean) => void = () => undefined;
    const settled = new Promise<boolean>((resolve) => (settle = resolve));
    const made: Gate = { state: 'open', settled, settle: (ok) => {
      if (made.state !== 'open') return;
      made.state = ok ? 'verified' : 'failed';
      settle(ok);
    } };
    g = made;
    gates.set(token, g);
  }
  return g;
}

/** The pull's word on a streamed blob: its digest verified (`ok`), or its download failed. */
export function settleGate(token: string, ok: boolean): void {
  gate(token).settle(ok);
}

/** Resolves once the pull has said; true when the blob verified. The gate is then forgotten. */
export async function gateVerified(token: string): Promise<boolean> {
  const ok = await gate(token).settled;
  gates.delete(token);
  return ok;
}

export function notVerified(): FluxError {
  return new FluxError('BLOB_UNVERIFIED', 'the layer\'s blob did not verify, so its unpack was discarded.', {
    hint: 'Run the command again; the pull says why the blob failed.',
  });
}

// How long a read at the file's current end waits before looking again. The writer is this
// user's own pull, on loopback often faster than the unpacker reads; a wait only happens when
// the unpacker has caught up with the download.
const POLL_MS = 2;

/**
 * The `size` bytes of a blob as they are written to `partial`, which the writer renames to
 * `final` once verified (an open descriptor keeps reading the same file across the rename).
 */
export async function* followBlob(partial: string, final: string, size: number, token: string): AsyncGenerator<Buffer> {
  const g = gate(token);
  let fh: FileHandle | undefined;
  while (!fh) {
    for (const p of [partial, final]) {
      try {
        fh = await open(p, 'r');
        break;
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
    }
    if (fh) break;
    if (g.state === 'failed') throw notVerified();
    await sleep(POLL_MS);
  }
  try {
    let pos = 0;
    while (pos < size) {
      const buf = Buffer.allocUnsafe(Math.min(256 * 1024, size - pos));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) {
        if (g.state === 'failed') throw notVerified();
        await sleep(POLL_MS);
        continue;
      }
      pos += bytesRead;
      yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}
