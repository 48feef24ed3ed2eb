/**
 * Applies one layer blob to an empty directory in a single streaming pass:
 * magic check → decompress → diff_id hash → tar-stream → files.
 *
 * The directory becomes an overlayfs lower layer on its own, so whiteouts are written as
 * overlay whiteouts (0/0 character devices) and opaque markers as `overlay.opaque` xattrs,
 * never applied to other layers. On any failure the directory is removed: the caller only
 * ever renames a complete, verified layer into the store.
 */
import { createHash, type Hash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { FluxError, errnoCode } from '../../src/errors.js';
import { fsError, isErrnoCode } from '../../src/fs-error.js';
import type { Digest } from '../../src/image/types.js';
import { MagicCheck, declaredCompression, decompressor } from './compression.js';
import { EntryWriter, type Header } from './entry-writer.js';
import type { LayerFs } from './layer-fs.js';
import { installPaxDecoder } from './pax.js';

export interface ApplyLayerOptions {
  /** The target directory; it must exist and be empty. */
  dir: string;
  mediaType: string;
  expectedDiffId: Digest;
  /** `user.overlay.*` (overlay mounted with userxattr in a user namespace) instead of `trusted.overlay.*`. */
  userXattr: boolean;
  fs: LayerFs;
  /** Called once per kind of degradation (skipped device nodes, unmapped owners, …). */
  onWarning?: (message: string) => void;
}

export interface ApplyLayerResult {
  diffId: Digest;
  /** Bytes of regular file content written. */
  size: number;
  /** Tar entries applied. */
  files: number;
  /** Directories (relative, `/`-joined, '' for the root) marked opaque. */
  opaque: string[];
}

export async function applyLayer(input: Readable, opts: ApplyLayerOptions): Promise<ApplyLayerResult> {
  installPaxDecoder();
  try {
    return await apply(input, opts);
  } catch (err) {
    rmSync(opts.dir, { recursive: true, force: true, maxRetries: 2 });
    throw asFluxError(err, opts.dir);
  }
}

async function apply(input: Readable, opts: ApplyLayerOptions): Promise<ApplyLayerResult> {
  const compression = declaredCompression(opts.mediaType);
  const hasher = new HashTap();
  const extract = tar.extract();
  const writer = new EntryWriter(opts.dir, opts.fs, opts.userXattr, opts.onWarning ?? (() => {}), opts.expectedDiffId.slice(0, 19));

  // The parser's entry events rather than its async iterator: most entries carry no data and
  // are written at once, without a promise and an iterator step each. The parser waits for
  // `next`, called from a microtask so that a run of empty entries never nests its calls.
  let writerError: { reason: unknown } | undefined;
  const fail = (err: unknown): void => {
    writerError ??= { reason: err };
    extract.destroy(err as Error);
  };
  extract.on('entry', (header, stream, next) => {
    if (header.size !== 0) stream.on('error', () => {}); // a destroyed parser errors its open entry; the reader sees it
    let writing: Promise<void> | undefined;
    try {
      writing = writer.entry(header as Header, stream);
    } catch (err) {
      fail(err);
      return;
    }
    if (writing === undefined) queueMicrotask(() => next());
    else writing.then(() => next(), fail);
  });
  let pipeError: { reason: unknown } | undefined;
  await pipeline(input, new MagicCheck(compression, opts.mediaType), await decompressor(compression), hasher, extract)
    .catch((err: unknown) => void (pipeError = { reason: err }));
  // The writer's own failure (a refused entry, a full disk) destroys the parser, so the pipeline
  // then fails with a mere "Premature close": the writer's error is the one that says why.
  if (writerError && (writerError.reason instanceof FluxError || isErrnoCode(errnoCode(writerError.reason)))) throw writerError.reason;
  if (pipeError) throw pipeError.reason;
  if (writerError) throw writerError.reason;

  writer.finish();
  const diffId: Digest = `sha256:${hasher.hash.digest('hex')}`;
  if (diffId !== opts.expectedDiffId) {
    throw new FluxError(
      'DIFF_ID_MISMATCH',
      `the uncompressed layer has digest ${diffId}, but the image config says ${opts.expectedDiffId}.`,
      { hint: 'The image is corrupt or was tampered with; remove it (flux rmi) and pull it again from a trusted source.' },
    );
  }
  return { diffId, size: writer.bytes, files: writer.files, opaque: [...writer.opaque.entries()].map(([p]) => p).sort() };
}

/** Hashes the uncompressed stream on its way to the tar parser: the diff_id. */
class HashTap extends Transform {
  readonly hash: Hash = createHash('sha256');

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    cb(null, chunk);
  }
}

function asFluxError(err: unknown, dir: string): FluxError {
  if (err instanceof FluxError) return err;
  const code = errnoCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  if (code === 'ENAMETOOLONG') {
    return new FluxError('LAYER_NAME_TOO_LONG', `the layer has a file name longer than the filesystem of ${dir} allows.`, {
      hint: 'The image cannot be unpacked on this filesystem; point FLUX_STORE to another one or use another image.',
      cause: err,
    });
  }
  // A full disk, a quota, a read-only mount, a link limit…: one sentence naming the path and errno.
  if (isErrnoCode(code)) return fsError(err, dir) as FluxError;
  const systemError = code !== undefined && !code.startsWith('Z_') && !code.startsWith('ERR_');
  if (!systemError && (code?.startsWith('Z_') || /incorrect header check|unexpected end of file|invalid (block|distance|stored|code)|zstd|frame|Unknown frame descriptor/i.test(msg))) {
    return new FluxError('LAYER_CORRUPT', `the layer could not be decompressed (${msg}).`, {
      hint: 'The blob is damaged; remove the image (flux rmi) and pull it again.',
      cause: err,
    });
  }
  if (!systemError && /tar header|Unexpected end of data|PAX|Header exceeds/i.test(msg)) {
    return new FluxError('LAYER_CORRUPT', `the layer is not a valid tar archive (${msg}).`, {
      hint: 'The blob is damaged or truncated; remove the image (flux rmi) and pull it again.',
      cause: err,
    });
  }
  if (systemError) {
    return new FluxError('LAYER_WRITE', `unpacking the layer into ${dir} failed: ${msg}.`, {
      hint: 'Check that the store directory is writable and on a local filesystem (FLUX_STORE selects another one).',
      cause: err,
    });
  }
  return new FluxError('LAYER_UNPACK', `unpacking the layer failed: ${msg}.`, {
    hint: 'Run again with --verbose; if it persists, remove the image (flux rmi) and pull it again.',
    cause: err,
  });
}
