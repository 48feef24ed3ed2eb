/**
 * `--lock FILE`: a matrix that runs the same manifest digests every time. The first run writes
 * the digest each image resolved to (lock-file.ts); later runs use exactly those: a registry image
 * runs as NAME@DIGEST, from the store with no registry request when it is there, so a locked
 * matrix runs offline; an image on disk (oci:…) must still be the locked digest. An image not in
 * the lock yet is resolved and added; `--update-lock` resolves every image of the matrix again.
 * Entries of images not in this matrix (another shard's) are kept.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FluxError } from '../errors.js';
import { formatPlatform, hostPlatform, parsePlatform } from '../image/platform.js';
import { parseReference } from '../image/reference.js';
import type { Digest } from '../image/types.js';
import type { MatrixImage } from './images.js';
import { formatLock, lockId, parseLock, type LockEntry } from './lock-file.js';

/** What a pull made present: the part of the store's record the lock reads. */
export interface ResolvedImage {
  manifestDigest: Digest;
  platform: Parameters<typeof formatPlatform>[0];
}

const TRANSPORT_RE = /^(oci|oci-archive|docker-archive):/;

export interface LockOptions {
  path: string;
  /** --update-lock: resolve every image of the matrix again. */
  update: boolean;
  /** --platform, when given: entries are per platform. */
  platform?: string;
}

export class MatrixLock {
  private readonly entries = new Map<string, LockEntry>();
  private readonly want: string;
  private readonly existed: boolean;
  private changed = 0;

  private constructor(private readonly opts: LockOptions, text: string | undefined) {
    this.want = formatPlatform(opts.platform === undefined ? hostPlatform() : parsePlatform(opts.platform));
    this.existed = text !== undefined;
    for (const e of parseLock(text ?? '', opts.path)) this.entries.set(lockId(e.reference, e.platform), e);
  }

  static open(opts: LockOptions): MatrixLock {
    let text: string | undefined;
    try {
      text = readFileSync(opts.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new FluxError('MATRIX_LOCK', `cannot read the lock file ${opts.path}: ${(err as Error).message}.`, {
          hint: 'Give --lock a readable file, or a path where it can be created.',
          exitCode: 125,
        });
      }
    }
    return new MatrixLock(opts, text);
  }

  /** The digest this image must run, if it is locked (never with --update-lock). */
  locked(image: MatrixImage): LockEntry | undefined {
    if (this.opts.update) return undefined;
    return this.entries.get(lockId(image.key, this.want));
  }

  /** What to pull and run for this image: a locked registry image by its digest. */
  source(image: MatrixImage): string {
    const entry = this.locked(image);
    if (entry === undefined || TRANSPORT_RE.test(image.ref)) return image.ref;
    return `${parseReference(image.ref).name}@${entry.digest}`;
  }

  /** --update-lock asks the registry what each tag is now, whatever the store holds. */
  pullPolicy<P extends string>(image: MatrixImage, policy: P): P | 'always' {
    return this.opts.update && !TRANSPORT_RE.test(image.ref) && policy !== 'never' ? 'always' : policy;
  }

  /** The image was made present as `record`: checked against the lock, or added to it. */
  resolved(image: MatrixImage, record: ResolvedImage): void {
    const entry = this.locked(image);
    if (entry !== undefined) {
      if (record.manifestDigest === entry.digest) return;
      throw new FluxError('MATRIX_LOCKED_DIGEST', `${image.ref} is ${record.manifestDigest} now, not ${entry.digest} as locked in ${this.opts.path}.`, {
        hint: 'Run with --update-lock to lock what it is now.',
        exitCode: 125,
      });
    }
    // Named by digest already: pinned without the lock.
    if (image.key.includes('@sha256:')) return;
    const platform = formatPlatform(record.platform);
    const id = lockId(image.key, platform);
    if (this.entries.get(id)?.digest === record.manifestDigest) return;
    this.entries.set(id, { reference: image.key, platform, digest: record.manifestDigest });
    this.changed++;
  }

  /** One line for the user before the matrix runs: what the lock decides. */
  startNote(images: readonly MatrixImage[]): string {
    const pinned = images.filter((i) => this.locked(i) !== undefined).length;
    if (this.opts.update) return `flux: resolving every image again to update ${this.opts.path}.\n`;
    if (!this.existed) return `flux: ${this.opts.path} does not exist yet: it will lock the digests this matrix resolves.\n`;
    const rest = images.length - pinned;
    return `flux: running ${pinned} of ${images.length} images at the digests locked in ${this.opts.path}${rest > 0 ? `; ${rest} not locked yet will be resolved and added` : ''}.\n`;
  }

  /** Writes the file when it is new or changed; says so. */
  save(): string | undefined {
    if (this.existed && this.changed === 0) return undefined;
    const path = this.opts.path;
    const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
    try {
      writeFileSync(tmp, formatLock(this.entries.values()));
      renameSync(tmp, path);
    } catch (err) {
      throw new FluxError('MATRIX_LOCK', `cannot write the lock file ${path}: ${(err as Error).message}.`, {
        hint: 'Give --lock a path in a directory you can write to.',
        exitCode: 125,
      });
    }
    return `flux: wrote ${path} (${this.changed} ${this.changed === 1 ? 'entry' : 'entries'} ${this.existed ? 'updated or added' : 'locked'}).\n`;
  }
}
