/**
 * The content-addressed store. Layout (other parts of flux rely on it):
 *   blobs/sha256/<hex>   manifests, configs, compressed layers — verified bytes only
 *   layers/sha256/<hex>  unpacked layers by diff_id (written by the unpacker, complete ones only)
 *   tmp/                 partial downloads (`<hex>.partial`) and other temp files
 *   locks/               flock files
 *   index/               the image index
 *   runs/                per-run upper and work directories
 */
// Synchronous reads on purpose: a run of a stored image makes a handful of tiny ones, and each
// asynchronous call would be a round trip through libuv's thread pool (and node:fs/promises to load).
import { createReadStream, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { FluxError, errnoCode } from '../src/errors.js';
import type { Digest } from '../src/image/types.js';
import { assertDigest, digestHex, shortDigest } from '../src/image/digest.js';
import { storeIoError } from './errors.js';
import { defaultStoreRoot } from './location.js';
import { checkStoreDir } from './ownership.js';
import type { Lock, LockOptions } from './lock.js';
import type { BlobSource, WriteBlobOptions, WriteResult } from './write-blob.js';

export const STORE_DIRS = ['blobs/sha256', 'layers/sha256', 'tmp', 'locks', 'index', 'runs'] as const;

export interface BlobWriteResult extends WriteResult {
  /** The blob was already complete in the store; nothing was read from the source. */
  existed: boolean;
}

/**
 * mkdir -p. Node's recursive mkdir reports ENOENT for whatever stopped it (a read-only file
 * system, a directory not writable by us), so on ENOENT the missing levels are made one by one,
 * which throws the real error.
 */
/** The store names files after digests, so it checks each one itself rather than trusting callers. */
function hexOf(d: Digest): string {
  return digestHex(assertDigest(d, 'digest'));
}

function makeDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    const missing: string[] = [];
    for (let p = dir; !existsSync(p) && dirname(p) !== p; p = dirname(p)) missing.unshift(p);
    for (const p of missing) mkdirSync(p, { mode: 0o700 });
    throw err;
  }
}

export class Store {
  private constructor(readonly root: string) {}

  /** Opens (creating if needed) the store at `root`, default FLUX_STORE / $XDG_DATA_HOME/flux / ~/.local/share/flux. */
  static open(root: string = defaultStoreRoot()): Store {
    try {
      // A store that exists (every run's case) costs one stat a directory, not a mkdir and a stat.
      let top = statSync(root, { throwIfNoEntry: false });
      if (!top) {
        makeDir(root);
        top = statSync(root);
      }
      checkStoreDir(root, top, true);
      for (const d of STORE_DIRS) {
        // Parents first (blobs before blobs/sha256): none may be a symlink or someone else's.
        const parts = d.split('/');
        for (let i = 1; i <= parts.length; i++) {
          const dir = join(root, ...parts.slice(0, i));
          let st = lstatSync(dir, { throwIfNoEntry: false });
          if (!st) {
            // Another flux process may make it between the lstat and here: theirs is as good.
            try {
              mkdirSync(dir, { mode: 0o700 });
            } catch (err) {
              if (errnoCode(err) !== 'EEXIST') throw err;
            }
            st = lstatSync(dir);
          }
          checkStoreDir(dir, st, false);
        }
      }
    } catch (err) {
      throw storeIoError(err, root, 'creating it');
    }
    return new Store(root);
  }

  /** Opens the store only if it exists: read-only commands need not create one. */
  static openExisting(root: string = defaultStoreRoot()): Store | undefined {
    try {
      statSync(join(root, 'index'));
    } catch {
      return undefined;
    }
    return Store.open(root);
  }

  blobPath(d: Digest): string {
    return join(this.root, 'blobs', 'sha256', hexOf(d));
  }

  /** Where writeBlob writes the blob before it verifies (an unpack may follow it there as it grows). */
  blobPartialPath(d: Digest): string {
    return join(this.tmpDir, `${hexOf(d)}.partial`);
  }

  layerPath(diffId: Digest): string {
    return join(this.root, 'layers', 'sha256', hexOf(diffId));
  }

  get tmpDir(): string {
    return join(this.root, 'tmp');
  }

  get runsDir(): string {
    return join(this.root, 'runs');
  }

  get indexDir(): string {
    return join(this.root, 'index');
  }

  /** The blob is complete: it exists and, when `size` is given, has that size. Only verified blobs ever get this name. */
  async hasBlob(d: Digest, size?: number): Promise<boolean> {
    try {
      const st = statSync(this.blobPath(d));
      return st.isFile() && (size === undefined || st.size === size);
    } catch {
      return false;
    }
  }

  async hasLayer(diffId: Digest): Promise<boolean> {
    try {
      return statSync(this.layerPath(diffId)).isDirectory();
    } catch {
      return false;
    }
  }

  /**
   * Stores the blob of `desc` from `source` once: concurrent writers of one digest (in this or
   * another process) wait for each other, and the later one finds the blob complete.
   */
  async writeBlob(
    desc: { digest: Digest; size: number },
    source: BlobSource,
    opts: WriteBlobOptions & { sourceName?: string } = {},
  ): Promise<BlobWriteResult> {
    const digest = assertDigest(desc.digest, 'blob digest');
    if (await this.hasBlob(digest, desc.size)) return { fetched: 0, resumed: 0, existed: true };
    const lock = await this.lock(`blob-${hexOf(digest)}`);
    try {
      if (await this.hasBlob(digest, desc.size)) return { fetched: 0, resumed: 0, existed: true };
      // A function source is called only here, so no connection is opened for a blob another process just finished.
      // Loaded on first write: hashing and stream plumbing are not needed to run a stored image.
      const { writeVerified } = await import('./write-blob.js');
      const r = await writeVerified({ digest, size: desc.size }, source, this.blobPartialPath(digest), this.blobPath(digest),
        opts.sourceName ?? 'the image source', opts);
      return { ...r, existed: false };
    } catch (err) {
      // A partial download that filled the disk is worth less than the space it holds.
      const code = errnoCode(err);
      if (code === 'ENOSPC' || code === 'EDQUOT') rmSync(this.blobPartialPath(digest), { force: true });
      throw storeIoError(err, this.root, `writing blob ${shortDigest(digest)}`);
    } finally {
      lock.release();
    }
  }

  async readBlob(d: Digest): Promise<Buffer> {
    try {
      return readFileSync(this.blobPath(d));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        throw new FluxError('BLOB_MISSING', `the store ${this.root} lacks blob ${shortDigest(d)}.`, {
          hint: 'Pull the image again to restore it.',
        });
      }
      throw err;
    }
  }

  openBlob(d: Digest, offset = 0): Readable {
    return createReadStream(this.blobPath(d), { start: offset });
  }

  async readJson<T = unknown>(d: Digest): Promise<T> {
    const buf = await this.readBlob(d);
    try {
      return JSON.parse(buf.toString('utf8')) as T;
    } catch {
      throw new FluxError('BAD_BLOB', `the blob ${shortDigest(d)} in ${this.root} is not JSON.`, {
        hint: 'Run `flux rmi` on the image and pull it again.',
      });
    }
  }

  /** An exclusive (or shared) inter-process lock named `name` ([a-z0-9._-]); release it when done. */
  lock(name: string, opts?: LockOptions): Promise<Lock> {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`bad lock name ${name}`);
    // Loaded on first use: running a stored image takes no lock.
    return import('./lock.js').then(({ acquireLock }) => acquireLock(join(this.root, 'locks', name), opts));
  }

  /**
   * Held shared by every pull (and may be by runs) while it adds content not yet in the index,
   * and by a load while its copy of standard input is in tmp/; `flux prune` holds it
   * exclusively, so it never removes a blob a pull is about to record nor a load's archive.
   */
  gcLock(mode: 'use' | 'collect', opts?: Omit<LockOptions, 'shared'>): Promise<Lock> {
    return this.lock('gc', { ...opts, shared: mode === 'use' });
  }

  /** A fresh private directory under tmp/. */
  async tempDir(prefix = 'tmp-'): Promise<string> {
    return mkdtempSync(join(this.tmpDir, prefix));
  }
}
