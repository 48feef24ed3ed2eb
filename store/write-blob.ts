/**
 * Writing one blob: stream into `tmp/<hex>.partial` while hashing, check size and digest, fsync,
 * rename under `blobs/sha256/<hex>`. The partial file survives an interruption (Ctrl-C, kill -9,
 * a dropped connection) so the next attempt re-hashes that prefix and asks only for the rest.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, statSync, unlinkSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FluxError, errnoCode } from '../src/errors.js';
import type { Digest } from '../src/image/types.js';
import { shortDigest } from '../src/image/digest.js';

/** A whole blob, a stream from its first byte, or a way to open it from any offset (enables resume). */
export type BlobSource = Buffer | Readable | ((offset: number) => Promise<Readable>);

export interface WriteBlobOptions {
  /** Called with the length of every chunk received from the source. */
  onData?: (bytes: number) => void;
  /** Called once with the number of bytes already on disk from an earlier attempt. */
  onResume?: (offset: number) => void;
  /**
   * Called with the whole blob as soon as its size and digest have verified, before its fsync
   * and rename: a caller that parses it (the config) need not wait for the disk. Only for a blob
   * fetched whole in this call (not resumed, not already stored); keep it to small blobs.
   */
  onVerified?: (bytes: Buffer) => void;
}

export interface WriteResult {
  /** Bytes taken from the source in this call. */
  fetched: number;
  /** Bytes reused from an earlier, interrupted attempt. */
  resumed: number;
}

export class DigestMismatchError extends FluxError {
  constructor(expected: Digest, actual: string, source: string) {
    super('DIGEST_MISMATCH', `the blob ${source} served for ${shortDigest(expected)} has digest ${shortDigest(actual)}; it was discarded.`, {
      hint: 'Try again later or contact the publisher: the image source is corrupt or has been tampered with; nothing unverified was stored.',
    });
  }
}

function tooLong(expected: Digest, size: number, source: string): FluxError {
  return new FluxError('BLOB_TOO_LARGE', `the blob ${source} served for ${shortDigest(expected)} is larger than the ${size} bytes its descriptor declares; it was discarded.`, {
    hint: 'Nothing unverified was stored; pull from a trusted source, or ask the publisher to fix the image.',
  });
}

function truncated(expected: Digest, got: number, size: number, source: string): FluxError {
  return new FluxError('BLOB_TRUNCATED', `the blob ${shortDigest(expected)} from ${source} ended after ${got} of ${size} bytes.`, {
    hint: 'Run the same command again: the download resumes where it stopped.',
  });
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
}

// The partial file's size and its removal are single metadata calls, made here rather than on
// the thread pool: its round trips, and the first rm()'s loading of Node's rimraf, came before
// the request of every blob a pull fetched.
function fileSize(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}

function removePartial(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}

/**
 * Writes the bytes of `desc` from `source` to `partial`, verifies them and renames to `final`.
 * The caller holds the blob's lock. `sourceName` names the source in messages.
 */
export async function writeVerified(
  desc: { digest: Digest; size: number },
  source: BlobSource,
  partial: string,
  final: string,
  sourceName: string,
  opts: WriteBlobOptions = {},
): Promise<WriteResult> {
  const { digest, size } = desc;
  if (Buffer.isBuffer(source)) {
    if (source.length !== size) {
      if (source.length > size) throw tooLong(digest, size, sourceName);
      throw truncated(digest, source.length, size, sourceName);
    }
    const actual = `sha256:${createHash('sha256').update(source).digest('hex')}`;
    if (actual !== digest) throw new DigestMismatchError(digest, actual, sourceName);
    const fh = await open(partial, 'w', 0o644);
    try {
      await fh.writeFile(source);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(partial, final);
    opts.onData?.(size);
    return { fetched: size, resumed: 0 };
  }

  const resumable = typeof source === 'function';
  let offset = resumable ? fileSize(partial) ?? 0 : 0;
  if (offset >= size && offset > 0) {
    // A complete leftover: verify it below without reading the source at all.
    if (offset > size) offset = 0;
  }
  for (let attempt = 0; ; attempt++) {
    const hash = createHash('sha256');
    if (offset > 0) {
      await hashFile(partial, hash);
      opts.onResume?.(offset);
    } else {
      removePartial(partial);
    }
    let received = 0;
    let actual: string | undefined;
    if (offset < size) {
      const kept: Buffer[] | undefined = opts.onVerified && offset === 0 ? [] : undefined;
      const input = typeof source === 'function' ? await source(offset) : source;
      const limit = size - offset;
      const meter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          received += chunk.length;
          if (received > limit) {
            cb(tooLong(digest, size, sourceName));
            return;
          }
          hash.update(chunk);
          kept?.push(chunk);
          opts.onData?.(chunk.length);
          cb(null, chunk);
        },
      });
      try {
        await pipeline(input, meter, createWriteStream(partial, { flags: 'a', mode: 0o644, highWaterMark: 1 << 20 }));
      } catch (err) {
        // A blob that is too long is hostile, not interrupted: nothing of it is kept.
        if (err instanceof FluxError && err.code === 'BLOB_TOO_LARGE') removePartial(partial);
        throw err;
      }
      if (kept && received === size) {
        actual = `sha256:${hash.digest('hex')}`;
        if (actual === digest) opts.onVerified!(Buffer.concat(kept, size));
      }
      // fsync through a second descriptor: it flushes the file, whichever descriptor wrote it.
      const fh = await open(partial, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (offset + received < size) throw truncated(digest, offset + received, size, sourceName);
    }
    actual ??= `sha256:${hash.digest('hex')}`;
    if (actual === digest) {
      await rename(partial, final);
      return { fetched: received, resumed: offset };
    }
    removePartial(partial);
    // A bad prefix from an earlier attempt (or an earlier, different source): start over once.
    if (offset > 0 && resumable && attempt === 0) {
      offset = 0;
      continue;
    }
    throw new DigestMismatchError(digest, actual, sourceName);
  }
}
