/**
 * Writing stored images as one tar: a docker archive (`docker save`'s manifest.json, read by
 * `docker load`, `podman load` and skopeo's docker-archive:) or an OCI archive (an image layout,
 * oci-archive:). Both formats carry index.json, oci-layout and every blob under blobs/sha256/ as
 * Docker 25 writes them, so the manifests travel byte for byte and a load keeps their digests.
 * Layers are written as stored (compressed); readers of manifest.json decompress them.
 */
import { createReadStream, createWriteStream, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { FluxError, READER_GONE, errnoCode } from '../errors.js';
import { CLOSED_PIPE_STATUS } from '../host-output.js';
import { digestHex } from '../image/digest.js';
import type { Digest } from '../image/types.js';

export type ArchiveFormat = 'docker-archive' | 'oci-archive';

export interface ArchiveImage {
  manifestDigest: Digest;
  manifestMediaType: string;
  configDigest: Digest;
  layers: Digest[];
  /** Full references (`docker.io/library/alpine:latest`); none for an image saved by ID. */
  names: string[];
}

const REF_NAME = 'org.opencontainers.image.ref.name';
// containerd's and Docker's annotation for the full name; ref.name holds only the tag.
const FULL_NAME = 'io.containerd.image.name';

function blobName(d: Digest): string {
  return `blobs/sha256/${digestHex(d)}`;
}

/** The tag part of a reference (after the last ':' following the last '/'). */
function tagOf(name: string): string {
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/') ? name.slice(colon + 1) : 'latest';
}

/** The archive's own file could not be written: the path the user chose, not the store, is at fault. */
function cannotWrite(file: string, err: unknown): unknown {
  const code = errnoCode(err);
  if (code === undefined) return err;
  const why: Record<string, string> = {
    ENOENT: 'its directory does not exist',
    ENOTDIR: 'a part of its path is not a directory',
    EACCES: 'you may not write into its directory',
    EPERM: 'you may not write into its directory',
    EROFS: 'its directory is on a read-only file system',
    ENOSPC: 'no space is left on the device',
    EDQUOT: 'your disk quota is used up',
    EISDIR: 'it is a directory',
  };
  return new FluxError('ARCHIVE_WRITE', `cannot write the archive ${file}: ${why[code] ?? code}.`, {
    hint: 'Give -o a file in a directory that exists, that you may write, with room for the images.',
    exitCode: 125,
    cause: err,
  });
}

const STOPPING: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * While the archive is written to `tmp`, SIGINT, SIGTERM or SIGHUP first removes it. An
 * interrupted pull keeps its partial download for the next pull to resume; a save has nothing to
 * resume, and its hidden temporary file, as large as the images, would stay for nobody to remove.
 * The process then ends by the signal as it would have without this handler (a shell sees 130,
 * 143 or 129), unless the program has handlers of its own: then it decides, and the save fails.
 */
function removeOnSignal(tmp: string, abort: (err: Error) => void): () => void {
  const onSignal = (sig: NodeJS.Signals): void => {
    dispose();
    rmSync(tmp, { force: true });
    if (process.listenerCount(sig) === 0) {
      // No listener left: the signal's default action, ending the process, is back.
      process.kill(process.pid, sig);
      return;
    }
    abort(new FluxError('INTERRUPTED', `the save was stopped by ${sig}; nothing was written.`, { hint: 'Run flux save again.', exitCode: 128 + (constants.signals[sig] ?? 15) }));
  };
  const dispose = (): void => {
    for (const s of STOPPING) process.off(s, onSignal);
  };
  for (const s of STOPPING) process.on(s, onSignal);
  return dispose;
}

/** The program reading the archive (`flux save IMAGE | head`) closed the pipe: see READER_GONE. */
function readerGoneError(err: unknown): FluxError {
  return new FluxError(READER_GONE, 'the program reading the archive closed the pipe before the archive was complete.', {
    hint: 'Let it read the whole archive, or write the archive to a file with -o FILE.',
    exitCode: CLOSED_PIPE_STATUS,
    cause: err,
  });
}

export function indexJson(images: ArchiveImage[], sizeOf: (d: Digest) => number): Buffer {
  const manifests = images.flatMap((img) => {
    const desc = { mediaType: img.manifestMediaType, digest: img.manifestDigest, size: sizeOf(img.manifestDigest) };
    if (img.names.length === 0) return [desc];
    return img.names.map((n) => ({ ...desc, annotations: { [FULL_NAME]: n, [REF_NAME]: tagOf(n) } }));
  });
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
}

export function dockerManifestJson(images: ArchiveImage[]): Buffer {
  return Buffer.from(JSON.stringify(images.map((img) => ({
    Config: blobName(img.configDigest),
    RepoTags: img.names,
    Layers: img.layers.map(blobName),
  }))));
}

/**
 * Writes the archive to `file` through a temporary file beside it, renamed into place once
 * complete: an interrupted save never leaves a truncated archive under the name. A stream
 * (standard output) gets the bytes as they are made. Returns the bytes written.
 */
export async function writeArchive(file: string | Writable, format: ArchiveFormat, images: ArchiveImage[], blobPath: (d: Digest) => string): Promise<number> {
  const blobs: Digest[] = [];
  const seen = new Set<Digest>();
  const add = (d: Digest): void => {
    if (!seen.has(d)) {
      seen.add(d);
      blobs.push(d);
    }
  };
  for (const img of images) {
    add(img.manifestDigest);
    add(img.configDigest);
    img.layers.forEach(add);
  }
  const sizes = new Map<Digest, number>();
  for (const d of blobs) {
    try {
      sizes.set(d, statSync(blobPath(d)).size);
    } catch {
      throw new FluxError('BLOB_MISSING', `the store lacks blob ${d.slice(0, 19)}… of an image to save.`, {
        hint: 'Pull the image again to restore it, then save it.',
      });
    }
  }
  const tmp = typeof file === 'string' ? join(dirname(file), `.${process.pid}.flux-save.tmp`) : undefined;
  const pack = tar.pack();
  let stopped: Error | undefined;
  // Listening before the file exists: a signal between its creation and the listener would leave it.
  const stopHandling = tmp !== undefined ? removeOnSignal(tmp, (err) => pack.destroy((stopped = err))) : undefined;
  let fd: number | undefined;
  try {
    // Opened before anything is packed: a path that cannot be written fails here, with its reason.
    if (tmp !== undefined) fd = openSync(tmp, 'w', 0o644);
  } catch (err) {
    stopHandling?.();
    throw cannotWrite(file as string, err);
  }
  let total = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      total += chunk.length;
      cb(null, chunk);
    },
  });
  const written = pipeline(pack, counter, fd !== undefined ? createWriteStream('', { fd }) : (file as Writable));
  // Awaited below; a failure of the output before then must not go unhandled meanwhile.
  written.catch(() => undefined);
  const mtime = new Date(0);
  const small = async (name: string, body: Buffer): Promise<void> => {
    await new Promise<void>((resolve, reject) => pack.entry({ name, mtime, mode: 0o644 }, body, (err) => (err ? reject(err) : resolve())));
  };
  try {
    await new Promise<void>((resolve, reject) => pack.entry({ name: 'blobs', type: 'directory', mtime, mode: 0o755 }, (err) => (err ? reject(err) : resolve())));
    await new Promise<void>((resolve, reject) => pack.entry({ name: 'blobs/sha256', type: 'directory', mtime, mode: 0o755 }, (err) => (err ? reject(err) : resolve())));
    for (const d of blobs) {
      const entry = pack.entry({ name: blobName(d), size: sizes.get(d)!, mtime, mode: 0o644 });
      await pipeline(createReadStream(blobPath(d)), entry);
    }
    await small('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    await small('index.json', indexJson(images, (d) => sizes.get(d)!));
    if (format === 'docker-archive') await small('manifest.json', dockerManifestJson(images));
    pack.finalize();
    await written;
    if (tmp !== undefined) renameSync(tmp, file as string);
  } catch (err) {
    pack.destroy();
    // The output's own failure, when it is what stopped the packing (a closed pipe).
    const outputErr = await written.then(() => undefined, (e: unknown) => e);
    if (tmp !== undefined) rmSync(tmp, { force: true });
    if (stopped) throw stopped;
    if (typeof file === 'string') throw cannotWrite(file, err);
    throw errnoCode(outputErr) === 'EPIPE' || errnoCode(err) === 'EPIPE' ? readerGoneError(err) : err;
  } finally {
    stopHandling?.();
  }
  return total;
}
