/**
 * Layer compression: declared by the media type, confirmed by the first bytes. A disagreement is
 * an error rather than a guess, because a mislabelled blob means a broken or tampered source.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { createRequire } from 'node:module';
import { FluxError } from '../../src/errors.js';

export type Compression = 'gzip' | 'zstd' | 'none';

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/** The compression a layer media type declares, or undefined when it is not a layer type flux knows. */
export function compressionOfMediaType(mediaType: string): Compression | undefined {
  const mt = mediaType.trim().toLowerCase();
  if (/^application\/vnd\.oci\.image\.layer\.(nondistributable\.)?v1\.tar(\+gzip|\+zstd)?$/.test(mt)) {
    if (mt.endsWith('+gzip')) return 'gzip';
    if (mt.endsWith('+zstd')) return 'zstd';
    return 'none';
  }
  if (/^application\/vnd\.docker\.image\.rootfs\.(foreign\.)?diff\.tar\.gzip$/.test(mt)) return 'gzip';
  if (/^application\/vnd\.docker\.image\.rootfs\.(foreign\.)?diff\.tar$/.test(mt)) return 'none';
  return undefined;
}

/** What the first bytes say. Anything that is neither gzip nor zstd is taken for a plain tar. */
export function compressionOfMagic(head: Buffer): Compression {
  if (head.length >= GZIP_MAGIC.length && head.subarray(0, GZIP_MAGIC.length).equals(GZIP_MAGIC)) return 'gzip';
  if (head.length >= ZSTD_MAGIC.length && head.subarray(0, ZSTD_MAGIC.length).equals(ZSTD_MAGIC)) return 'zstd';
  return 'none';
}

export function declaredCompression(mediaType: string): Compression {
  const c = compressionOfMediaType(mediaType);
  if (c === undefined) {
    throw new FluxError('LAYER_MEDIA_TYPE', `the layer media type ${JSON.stringify(mediaType)} is not one flux can unpack.`, {
      hint: 'Use an image built with a standard tool: flux unpacks OCI and Docker tar layers, uncompressed, gzip or zstd.',
    });
  }
  return c;
}

/**
 * A pass-through that holds the first bytes until it can tell the compression, and fails the
 * stream when that disagrees with `expected`.
 */
export class MagicCheck extends Transform {
  private head: Buffer[] = [];
  private headLen = 0;
  private decided = false;

  constructor(private readonly expected: Compression, private readonly mediaType: string) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.decided) return cb(null, chunk);
    this.head.push(chunk);
    this.headLen += chunk.length;
    if (this.headLen < ZSTD_MAGIC.length) return cb();
    this.release(cb);
  }

  override _flush(cb: TransformCallback): void {
    if (this.decided) return cb();
    this.release(cb);
  }

  private release(cb: TransformCallback): void {
    const buf = Buffer.concat(this.head);
    this.head = [];
    this.decided = true;
    const actual = compressionOfMagic(buf);
    if (actual !== this.expected) return cb(compressionMismatch(this.mediaType, this.expected, actual));
    cb(null, buf);
  }
}

export function compressionMismatch(mediaType: string, expected: Compression, actual: Compression): FluxError {
  const say = (c: Compression) => (c === 'none' ? 'an uncompressed tar' : `${c}-compressed`);
  return new FluxError(
    'LAYER_COMPRESSION',
    `a layer declared as ${mediaType} (${say(expected)}) is actually ${say(actual)}.`,
    { hint: 'The image source mislabels its layers; rebuild or re-push the image with a correct media type.' },
  );
}

/** The decompressing stage for `c`; zstd-napi is loaded only when a zstd layer appears. */
export async function decompressor(c: Compression): Promise<Transform> {
  if (c === 'gzip') return createGunzip({ chunkSize: 256 * 1024 });
  if (c === 'zstd') {
    // require, not import(): the unpack worker runs from a vm.Script (its code cache), which has
    // no loader for a dynamic import.
    const { DecompressStream } = createRequire(import.meta.url)('zstd-napi') as typeof import('zstd-napi');
    return new DecompressStream();
  }
  return new Transform({ transform: (chunk, _enc, cb) => cb(null, chunk) });
}
