/**
 * Unpacking the layers of one image while its blobs are still arriving: the layers the store
 * lacks are locked up front (in diff_id order, before any blob lock is taken, so two flux
 * processes cannot wait on each other), and each is handed to the unpacker as soon as its blob
 * is verified in the store: layer N unpacks while N+1 downloads. A layer is unpacked into tmp/
 * and renamed into layers/ only once complete and its diff_id verified, so a crash never leaves
 * a half layer where a run would use it.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Lock, Store } from '../../store/index.js';
import { FluxError } from '../errors.js';
import { escapeText } from '../escape.js';
import { fsError } from '../fs-error.js';
import { assertDigest, digestHex } from '../image/digest.js';
import type { Digest } from '../image/types.js';
import { hasLayerInfo, readLayerInfo } from './layer-info.js';
import { jobError, type JobError } from './protocol.js';
import { isRealRoot, startJobRunner, type JobRunner } from './job-runner.js';
import { spreadSubdirs } from './spread-dirs.js';
import { staleTemps, tempPrefix } from './stale.js';

export interface LayerToUnpack {
  digest: Digest;
  diffId: Digest;
  mediaType: string;
  size: number;
}

export interface EnsureUnpackedOptions {
  /** One call per kind of degradation (skipped devices, unmapped owners, ignored xattrs). Default: stderr. */
  onWarning?: (message: string) => void;
  /** Called when a layer is about to be unpacked and when it is done. */
  onLayer?: (event: { diffId: Digest; state: 'start' | 'done'; size?: number; files?: number }) => void;
  /** Says that another flux process is unpacking the same layer and we wait for it. */
  onWait?: (diffId: Digest) => void;
  /** A runner started earlier (startJobRunner); the session closes it. */
  runner?: JobRunner;
}

export interface EnsureUnpackedResult {
  /** Bytes of file content unpacked by this call. */
  unpackedBytes: number;
  /** Bytes of file content of all the given layers, as recorded when each was unpacked. */
  unpackedSize: number;
  /** Layers this call unpacked. */
  unpacked: Digest[];
}

export interface UnpackSession {
  /** The blob `digest` is complete and verified in the store: unpack its layer now if it is one this session must. */
  blobReady(digest: Digest): void;
  /**
   * The blob `digest` has started downloading from its first byte into the store's partial file:
   * unpack its layer from that file as it grows, to be kept only once blobReady says it verified.
   */
  blobStarted(digest: Digest): void;
  /** The download of `digest` failed: an unpack following it is stopped and its directory removed. */
  blobFailed(digest: Digest): void;
  /** Layers this session still has to unpack or is unpacking. */
  readonly busy: boolean;
  /** Unpacks what is left (every blob must be in the store by now), waits, releases the locks. */
  finish(): Promise<EnsureUnpackedResult>;
  /** Settles once the unpacker that finish() let go has exited. */
  closed(): Promise<void>;
  /** Stops: the worker is killed, temp trees removed, locks released. */
  abort(): Promise<void>;
}

/**
 * Gives the store's tmp/ and runs/ ext4's TOPDIR attribute (spread-dirs.ts) ahead of an unpack:
 * a cold pull calls it once its first request is out, so that the session's first layer
 * directory does not wait for the helper. Asked once per process.
 */
export function prepareUnpacking(store: Store): Promise<void> {
  return spreadSubdirs([store.tmpDir, store.runsDir]);
}

export async function startUnpackSession(store: Store, layers: LayerToUnpack[], opts: EnsureUnpackedOptions = {}): Promise<UnpackSession> {
  const warn = opts.onWarning ?? ((m: string) => process.stderr.write(`flux: warning: ${escapeText(m)}\n`));
  const unique = new Map<Digest, LayerToUnpack>();
  for (const l of layers) {
    assertDigest(l.diffId, 'layer diff_id in the image config');
    assertDigest(l.digest, 'layer digest in the manifest');
    if (!unique.has(l.diffId)) unique.set(l.diffId, l);
  }
  const missing: LayerToUnpack[] = [];
  for (const l of unique.values()) if (await needsUnpack(store, l)) missing.push(l);
  // Sorted, so two processes needing overlapping layers take their locks in the same order.
  missing.sort((a, b) => (a.diffId < b.diffId ? -1 : 1));
  const locks: Lock[] = [];
  const todo = new Map<Digest, LayerToUnpack>();
  try {
    for (const l of missing) {
      const lock = await store.lock(`layer-${digestHex(l.diffId)}`, { onWait: () => opts.onWait?.(l.diffId) });
      if (!(await needsUnpack(store, l))) lock.release();
      else {
        locks.push(lock);
        todo.set(l.diffId, l);
      }
    }
  } catch (err) {
    for (const lock of locks) lock.release();
    await opts.runner?.abort();
    throw err;
  }

  const userXattr = !isRealRoot();
  const runner = todo.size > 0 ? (opts.runner ?? startJobRunner()) : undefined;
  // An unpacker started on spec and not needed (every layer already there) is stopped at once
  // rather than waited for while it is still starting up.
  if (!runner) await opts.runner?.abort();
  const jobs: Promise<void>[] = [];
  const temps = new Set<string>();
  const started = new Set<Digest>();
  const seen = new Set<string>();
  const unpacked: Digest[] = [];
  let unpackedBytes = 0;
  let firstError: JobError | Error | undefined;
  let left = todo.size;

  const warnOnce = (ws: string[]): void => {
    for (const w of ws) {
      if (!seen.has(w)) warn(w);
      seen.add(w);
    }
  };

  // Waited for only by the first mkdtemp; a cold pull asked already (prepareUnpacking).
  const spread = runner ? prepareUnpacking(store) : undefined;
  if (runner) {
    // Leftovers of crashed unpacks (of these layers, or of any whose process is gone) go first.
    const stale = await staleTemps(store.tmpDir, new Set([...todo.values()].map((l) => digestHex(l.diffId))));
    if (stale.length > 0) {
      jobs.push(runner.run({ op: 'remove', paths: stale }).then((r) => {
        warnOnce(r.warnings);
        if (!r.ok) firstError ??= r.error;
      }, (err: unknown) => void (firstError ??= err as Error)));
    }
  }

  // Streamed blobs: the token of each one's gate, until the pull has said how it ended.
  const following = new Map<Digest, string>();
  const followJobs: Promise<void>[] = [];
  let tokens = 0;
  const tell = (digest: Digest, ok: boolean): void => {
    const token = following.get(digest);
    if (token === undefined) return;
    following.delete(digest);
    runner!.run({ op: 'blob', token, ok }).catch(() => undefined);
  };

  const unpackOne = async (l: LayerToUnpack, token?: string): Promise<void> => {
    await spread;
    const dir = await mkdtemp(join(store.tmpDir, tempPrefix('unpack', digestHex(l.diffId))));
    temps.add(dir);
    await chmod(dir, 0o755);
    opts.onLayer?.({ diffId: l.diffId, state: 'start' });
    const dest = store.layerPath(l.diffId);
    // The unpacker renames the finished layer into layers/ itself (unpack-job.ts says why).
    const follow = token === undefined ? {} : { follow: { partial: store.blobPartialPath(l.digest), size: l.size, token } };
    const r = await runner!.run({ op: 'unpack', blob: store.blobPath(l.digest), mediaType: l.mediaType, diffId: l.diffId, dir, dest, userXattr, ...follow });
    warnOnce(r.warnings);
    if (!r.ok) throw jobError(r.error);
    if (r.op !== 'unpack') return;
    // Renamed into layers/ (or removed, the layer being there already), its info beside it.
    temps.delete(dir);
    unpacked.push(r.diffId);
    unpackedBytes += r.size;
    opts.onLayer?.({ diffId: r.diffId, state: 'done', size: r.size, files: r.files });
  };

  const start = (l: LayerToUnpack, token?: string): void => {
    if (started.has(l.diffId)) return;
    started.add(l.diffId);
    const job = unpackOne(l, token).catch((err: unknown) => {
      // An unpack stopped because its blob failed: the pull reports the blob's own error.
      if (token !== undefined && isUnverified(err)) return;
      firstError ??= fsError(err, store.tmpDir) as Error;
    }).finally(() => void left--);
    jobs.push(job);
    if (token !== undefined) followJobs.push(job);
  };

  const settle = async (): Promise<void> => {
    // Jobs may be added while we wait (finish starting the last ones), so loop until none is new.
    for (let n = 0; n < jobs.length; n = jobs.length) await Promise.all(jobs.slice(n));
  };

  let done = false;
  let closing: Promise<void> | undefined;
  return {
    closed() {
      return closing ?? Promise.resolve();
    },
    get busy() {
      return left > 0;
    },
    blobReady(digest) {
      tell(digest, true);
      if (done || firstError) return;
      for (const l of todo.values()) if (l.digest === digest) start(l);
    },
    blobStarted(digest) {
      if (done || firstError || !runner || following.has(digest)) return;
      for (const l of todo.values()) {
        if (l.digest !== digest || started.has(l.diffId)) continue;
        const token = `${process.pid}-${tokens++}`;
        following.set(digest, token);
        start(l, token);
      }
    },
    blobFailed(digest) {
      tell(digest, false);
    },
    async finish() {
      done = true;
      try {
        for (const l of todo.values()) {
          if (started.has(l.diffId)) continue;
          if (!(await store.hasBlob(l.digest))) {
            firstError ??= new FluxError('BLOB_MISSING', `the store ${store.root} lacks the blob of layer ${l.digest.slice(0, 19)}, so it cannot be unpacked.`, {
              hint: 'Pull the image again to fetch it.',
            });
            break;
          }
          if (!firstError) start(l);
        }
        await settle();
        // Every job has answered (each layer renamed into layers/ by then); the unpacker's own
        // exit (10–30 ms of a Node process's teardown) is waited for by `closed`, so that the
        // caller records the image meanwhile.
        closing = runner?.close() ?? Promise.resolve();
        if (firstError) {
          await closing;
          await removeTemps(temps);
          throw firstError instanceof Error ? firstError : jobError(firstError);
        }
      } finally {
        for (const lock of locks) lock.release();
      }
      let unpackedSize = 0;
      for (const d of unique.keys()) unpackedSize += (await readLayerInfo(store.layerPath(d)))?.size ?? 0;
      return { unpackedBytes, unpackedSize, unpacked };
    },
    async abort() {
      done = true;
      try {
        // Unpacks following a blob are told it failed and remove their own directories (their
        // files may belong to sub-uids only the unpacker can remove) before it is stopped.
        for (const d of [...following.keys()]) tell(d, false);
        await Promise.race([Promise.all(followJobs), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
        await runner?.abort();
        await settle();
        await removeTemps(temps);
      } finally {
        for (const lock of locks) lock.release();
      }
    },
  };
}

/**
 * The layer is not in layers/, or is there without its info file (a crash of an older flux
 * between the two): without the info the image shows UNPACKED 0 B and a run cannot see the
 * layer's opaque directories, so it is unpacked again to write the info, if its blob is there.
 */
export async function needsUnpack(store: Store, l: { diffId: Digest; digest: Digest }): Promise<boolean> {
  if (!(await store.hasLayer(l.diffId))) return true;
  return !hasLayerInfo(store.layerPath(l.diffId)) && (await store.hasBlob(l.digest));
}

function isUnverified(err: unknown): boolean {
  return err instanceof FluxError && err.code === 'BLOB_UNVERIFIED';
}

/**
 * Temp trees of unpacks that failed. As a user their files may belong to sub-uids this process
 * cannot delete; what is left is swept as stale by the next unpack once this process is gone.
 */
async function removeTemps(temps: Set<string>): Promise<void> {
  for (const t of temps) await rm(t, { recursive: true, force: true }).catch(() => undefined);
}
