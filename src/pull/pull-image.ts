/**
 * Getting an image into the store: resolve the manifest (choosing a platform from an index),
 * fetch and verify the config and the layers (each blob once, even across processes), unpack
 * the layers and record the image. `ensureImage` is what `flux run` calls; when the image is
 * already in the store it touches neither the network nor any module only pulling needs.
 */
import { FluxError, errnoCode } from '../errors.js';
import { isDigest } from '../image/digest.js';
import { checkImageLimits } from '../image/image-limits.js';
import { checkConfig, parseConfig } from '../image/image-config.js';
// The store's modules one by one, not store/index.js: its gc and disk-usage are not needed to run.
import { Store } from '../../store/store.js';
import { ImageIndex, type ImageRecord, type LayerRecord } from '../../store/image-index.js';
import { lookupImage } from '../sources/lookup.js';
import { hasLayerInfo } from '../../store/layer-info-files.js';
import { lap } from '../timing.js';
import { parseSourceSpec, type SourceSpec } from '../sources/spec.js';
import type { Lock } from '../../store/lock.js';
import type { JobRunner } from '../layers/job-runner.js';
import type { UnpackSession } from '../layers/unpack-session.js';
import type { Descriptor, Digest, ImageConfig, ImageManifest, ImageSource, Platform } from '../image/types.js';

import type { PullPolicy } from './pull-policy.js';

export type { PullPolicy };

export interface PullEvents {
  /** A blob is about to be fetched; `resumed` bytes of it were already on disk. */
  blobStart?(desc: Descriptor, what: 'manifest' | 'config' | 'layer'): void;
  blobResume?(desc: Descriptor, resumed: number): void;
  blobData?(desc: Descriptor, bytes: number): void;
  blobDone?(desc: Descriptor, what: 'manifest' | 'config' | 'layer', r: { fetched: number; existed: boolean }): void;
  /** A one-line notice for the user (e.g. falling back to the cached image). */
  notice?(message: string): void;
  /** A phase starts: 'unpacking'. */
  phase?(name: 'unpacking'): void;
}

export interface PullOptions {
  platform?: string | Platform;
  pull?: PullPolicy;
  insecure?: boolean;
  events?: PullEvents;
  store?: Store;
}

export interface PullResult {
  record: ImageRecord;
  /** Bytes downloaded by this call (0 when everything was in the store). */
  fetchedBytes: number;
  /** No source was contacted. */
  fromStore: boolean;
}

export const BLOB_CONCURRENCY = 4;

/** The image for `name`, pulled according to the policy if needed. For `flux run` and `flux matrix`. */
export async function ensureImage(name: string, opts: PullOptions = {}): Promise<ImageRecord> {
  return (await pullImage(name, opts)).record;
}

async function wantedPlatform(p: PullOptions['platform']): Promise<Platform | undefined> {
  if (p === undefined) return undefined;
  if (typeof p !== 'string') return p;
  const { parsePlatform } = await import('../image/platform.js');
  return parsePlatform(p);
}

/**
 * Every layer is unpacked with its info file. One without its info (a crash of an older flux
 * between the two) counts as missing while its blob is there, so that the unpack recreates the
 * info (unpack-session.ts needsUnpack).
 */
async function layersPresent(store: Store, r: ImageRecord): Promise<boolean> {
  for (const l of r.layers) {
    if (!(await store.hasLayer(l.diffId))) return false;
    if (!hasLayerInfo(store.layerPath(l.diffId)) && (await store.hasBlob(l.digest))) return false;
  }
  return true;
}

function isNetworkFailure(err: unknown): boolean {
  if (err instanceof FluxError) return err.code === 'NETWORK' || err.code === 'TLS' || err.code === 'TOOMANYREQUESTS' || /^HTTP_5\d\d$/.test(err.code);
  const c = errnoCode(err);
  return c !== undefined && ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN'].includes(c);
}

export async function pullImage(name: string, opts: PullOptions = {}): Promise<PullResult> {
  const store = opts.store ?? Store.open();
  const policy = opts.pull ?? 'missing';
  const spec = parseSourceSpec(name);
  // The HTTP client, a pull's largest import, is loaded only once the store has been read: a
  // require is synchronous, so loading it earlier would delay the unpacker's start (below), not
  // overlap the store read.
  const want = await wantedPlatform(opts.platform);
  let cached = await lookupImage(store, name);
  lap('pull: store read');
  if (cached && want) {
    const { platformMatches } = await import('../image/platform.js');
    if (!platformMatches(want, cached.platform)) cached = undefined;
  }
  const pinned = spec.kind === 'registry' && spec.ref.digest !== undefined;

  if (cached && (policy !== 'always' || pinned)) {
    if (await layersPresent(store, cached)) return { record: cached, fetchedBytes: 0, fromStore: true };
    if (await blobsPresent(store, cached)) {
      const gc = await store.gcLock('use');
      try {
        await unpack(store, cached, opts.events);
      } finally {
        gc.release();
      }
      return { record: cached, fetchedBytes: 0, fromStore: true };
    }
  }
  if (policy === 'never') {
    throw new FluxError('NOT_IN_STORE', `the image ${name} is not in the store${want ? ' for that platform' : ''}, and --pull=never forbids fetching it.`, {
      hint: `Pull it first with \`flux pull ${name}\`, or drop --pull=never.`,
      exitCode: 125,
    });
  }
  // Cold: nothing of this name is in the store, so layers will almost surely need unpacking. The
  // unpacker (a Node process in the user namespace, some 100 ms to start) is started before the
  // HTTP client is even loaded, so that its start overlaps all of the pull's own.
  const early: EarlyRunner = cached === undefined ? { runner: (await import('../layers/job-runner.js')).startJobRunner() } : {};
  // Loading the HTTP client blocks this process for some 30 ms. The helper maps the ids itself
  // (mapping settles at once); only a single-id map is written by this process, during the
  // helper's handshake: that one is let through first (a few ms, bounded).
  if (early.runner) await Promise.race([early.runner.mapping, new Promise((resolve) => setTimeout(resolve, 15).unref())]);
  try {
    return await fetchNamed(store, name, want, opts, early);
  } catch (err) {
    await early.runner?.abort().catch(() => undefined);
    if (policy === 'always' && cached && isNetworkFailure(err) && (await layersPresent(store, cached))) {
      const why = err instanceof FluxError ? err.message.replace(/\.$/, '') : String(err);
      opts.events?.notice?.(`${why}; using the image ${cached.reference} from the store.`);
      return { record: cached, fetchedBytes: 0, fromStore: true };
    }
    throw err;
  }
}

/**
 * Fetches `name`; a short name under registries.conf goes to its alias, or to the first of the
 * search registries that has it (said in a notice: the user typed no registry).
 */
/** An unpacker started before the image is known; the first fetch takes it (another candidate starts its own). */
interface EarlyRunner {
  runner?: JobRunner;
}

async function fetchNamed(store: Store, name: string, want: Platform | undefined, opts: PullOptions, early: EarlyRunner): Promise<PullResult> {
  const { shortNameFor } = await import('../registry/short-names.js');
  const short = await shortNameFor(name);
  if (!short) return fetchImage(store, parseSourceSpec(name), name, want, opts, early);
  if (short.candidates.length === 1) return fetchImage(store, parseSourceSpec(short.candidates[0]!), short.candidates[0]!, want, opts, early);
  let last: unknown;
  for (const candidate of short.candidates) {
    try {
      const r = await fetchImage(store, parseSourceSpec(candidate), candidate, want, opts, early);
      opts.events?.notice?.(`${name} is ${r.record.reference}: the first of the unqualified-search-registries in ${short.file} that has it.`);
      return r;
    } catch (err) {
      last = err;
    }
  }
  const why = last instanceof Error ? last.message.replace(/\.$/, '') : String(last);
  throw new FluxError('SHORT_NAME_UNRESOLVED', `none of the unqualified-search-registries in ${short.file} has ${name} (tried ${short.candidates.join(', ')}; the last said: ${why}).`, {
    hint: 'Give the image\'s full name (registry/repository:tag), or add the registry that has it to that list.',
    exitCode: 125,
  });
}

async function blobsPresent(store: Store, r: ImageRecord): Promise<boolean> {
  for (const l of r.layers) if (!(await store.hasBlob(l.digest, l.size))) return false;
  return true;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
  return out;
}

/**
 * An image read from a source opened by the caller (an archive `flux load` reads, which may
 * hold several images): which manifest to start from, and the name to record it under.
 */
export interface GivenSource {
  source: ImageSource;
  /** A tag or digest the source knows; undefined for a source holding one image. */
  first?: string;
  reference: string;
  repository: string;
  tag?: string;
}

/** Stores the image `given` names from its already opened source, as a pull would (the caller closes the source). */
export async function storeFromSource(given: GivenSource, opts: PullOptions = {}): Promise<PullResult> {
  const store = opts.store ?? Store.open();
  const spec = parseSourceSpec(given.reference);
  return fetchImage(store, spec, given.reference, await wantedPlatform(opts.platform), opts, { runner: (await import('../layers/job-runner.js')).startJobRunner() }, given);
}

/**
 * `early`: an unpacker started when nothing of this name was in the store (see pullImage); it is
 * taken from there, so a failed fetch that aborts it leaves none for the next candidate, which
 * then goes without (its layers get a runner of their own when the session starts).
 */
async function fetchImage(store: Store, spec: SourceSpec, name: string, want: Platform | undefined, opts: PullOptions, early: EarlyRunner, given?: GivenSource): Promise<PullResult> {
  let runner = early.runner;
  early.runner = undefined;
  let session: UnpackSession | undefined;
  let gc: Lock | undefined;
  let locking: Promise<Lock> | undefined;
  let source: ImageSource | undefined;
  let stored: { digest: Digest; written: Promise<void> } | undefined;
  try {
    const [layersModule, { openSource }, { parseManifest }, { sha256Digest }, platform] = await Promise.all([
      import('../layers/index.js'),
      import('../sources/index.js'),
      import('../image/manifest.js'),
      import('../image/sha256.js'),
      import('../image/platform.js'),
      // got and the registry client: the largest import of a pull, started with the rest.
      !given && spec.kind === 'registry' ? import('../registry/source.js') : undefined,
    ]);
    lap('pull: code loaded');
    const ev = opts.events ?? {};
    const opened = given
      ? { source: given.source, reference: given.reference }
      : await openSource(name, { insecure: opts.insecure, onNotice: ev.notice });
    // A given source is the caller's to close.
    if (!given) source = opened.source;
    const src = opened.source;
    let fetched = 0;

    // Verified here, in memory, before anything of it is written; the write (with its fsync) then
    // goes on while the config and the layers download.
    const storeManifest = (bytes: Buffer, mediaType: string, expected?: Digest): { digest: Digest; written: Promise<void> } => {
      const digest = sha256Digest(bytes);
      if (expected !== undefined && digest !== expected) {
        throw new FluxError('DIGEST_MISMATCH', `the manifest ${src.name} served for ${expected.slice(0, 19)}… has digest ${digest.slice(0, 19)}…; it was discarded.`, {
          hint: 'Nothing unverified was stored; pull from a trusted source, or ask the publisher to fix the image.',
        });
      }
      const desc: Descriptor = { mediaType, digest, size: bytes.length };
      const written = store.writeBlob(desc, bytes, { sourceName: src.name }).then((r) => void (fetched += r.fetched));
      written.catch(() => undefined);
      return { digest, written };
    };

    const first = given ? given.first : spec.kind === 'registry' ? spec.ref.ref : spec.tag;
    const asked = src.getManifest(first);
    asked.catch(() => undefined);
    // The gc lock (flock through koffi, whose loading blocks this thread some 10 ms) is taken
    // while the manifest is asked for: once the request is out (a turn of the event loop, whose
    // poll phase writes it), so that the registry answers meanwhile. Nothing is written to the
    // store before it is held.
    locking = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      // A cold pull will unpack: the store's tmp/ gets its attribute while the registry answers.
      if (runner) void layersModule.prepareUnpacking(store);
      return store.gcLock('use');
    }).then((held) => {
      lap('pull: gc lock held');
      return held;
    });
    locking.catch(() => undefined);
    const raw = await asked;
    lap('pull: manifest');
    gc = await locking;
    const pinnedDigest = given ? (given.first !== undefined && isDigest(given.first) ? given.first : undefined) : spec.kind === 'registry' ? spec.ref.digest : undefined;
    let parsed = parseManifest(raw, { source: src.name });
    stored = storeManifest(raw.bytes, parsed.mediaType, pinnedDigest);
    let manifestDigest = stored.digest;
    let indexDigest: Digest | undefined;
    if (parsed.kind === 'index') {
      indexDigest = manifestDigest;
      const chosen = platform.selectManifest(parsed.index, want ?? platform.hostPlatform());
      const raw2 = await src.getManifest(chosen.digest);
      if (raw2.bytes.length !== chosen.size) {
        throw new FluxError('BLOB_SIZE_MISMATCH', `the manifest ${chosen.digest.slice(0, 19)}… from ${src.name} is ${raw2.bytes.length} bytes, not the ${chosen.size} its index declares.`, {
          hint: 'Nothing unverified was stored; pull from a trusted source, or ask the publisher to fix the image.',
        });
      }
      parsed = parseManifest(raw2, { source: src.name });
      if (parsed.kind !== 'image') {
        throw new FluxError('BAD_MANIFEST', `the index of ${src.name} points to another index for the chosen platform.`, { hint: 'Nested indexes are not supported; use the inner index by digest.' });
      }
      await stored.written;
      stored = storeManifest(raw2.bytes, parsed.mediaType, chosen.digest);
      manifestDigest = stored.digest;
    }
    if (parsed.kind !== 'image') throw new Error('unreachable');
    const manifest = parsed.manifest;
    checkImageLimits(src.name, manifest);

    const fetchBlob = async (desc: Descriptor, what: 'config' | 'layer', onFirstByte?: () => void, onVerified?: (bytes: Buffer) => void): Promise<void> => {
      let started = false;
      const r = await store.writeBlob(desc, async (offset) => {
        // A download from the first byte can be unpacked as it arrives. A resumed one is unpacked
        // once verified: its earlier bytes may yet turn out bad and be fetched again.
        if (!started && offset === 0) onFirstByte?.();
        started = true;
        ev.blobStart?.(desc, what);
        return src.openBlob(desc, offset);
      }, {
        sourceName: src.name,
        onData: (n) => ev.blobData?.(desc, n),
        onResume: (n) => ev.blobResume?.(desc, n),
        ...(onVerified ? { onVerified } : {}),
      });
      fetched += r.fetched;
      if (!started && !r.existed) ev.blobStart?.(desc, what);
      ev.blobDone?.(desc, what, { fetched: r.fetched, existed: r.existed });
    };

    // The layers download alongside the config: their digests are in the manifest already. Each
    // is unpacked from its bytes as they arrive (once the config has said its diff_id), kept only
    // once its blob verified, while the next ones download. Blob writes never wait for a layer
    // lock, so the two cannot deadlock.
    let configStored: Promise<void> | undefined;
    const ready: Digest[] = [];
    // Layers downloading from their first byte before the session exists: it follows them once started.
    const streaming: Digest[] = [];
    const unstream = (d: Digest): void => {
      const i = streaming.indexOf(d);
      if (i >= 0) streaming.splice(i, 1);
    };
    let layers: LayerRecord[] = [];
    let config: ImageConfig | undefined;
    const withConfig = (async () => {
      // The config is parsed as soon as its digest verified, while it is still being written (and
      // fsynced): the unpack session, which needs its diff_ids, starts that much sooner.
      let verified: (bytes: Buffer) => void = () => undefined;
      const early = new Promise<Buffer>((resolve) => (verified = resolve));
      const written = fetchBlob(manifest.config, 'config', undefined, verified);
      const bytes = await Promise.race([early, written.then(() => undefined)]);
      lap('pull: config verified');
      configStored = written;
      const checked = checkConfig(src.name, bytes ? parseConfig(src.name, bytes) : await store.readJson(manifest.config.digest), manifest);
      // An index was chosen from by platform already; a lone manifest says its platform only in
      // its config, and one asked for by --platform must be for that platform.
      if (want && indexDigest === undefined) platform.assertConfigPlatform(src.name, checked, want);
      layers = manifest.layers.map((l, i) => ({
        digest: l.digest,
        diffId: checked.rootfs.diff_ids[i]!,
        size: l.size,
        mediaType: l.mediaType,
      }));
      const started = runner;
      runner = undefined;
      session = await layersModule.startUnpackSession(store, layers, started ? { runner: started } : {});
      config = checked;
      lap('pull: unpack session started');
      for (const d of ready.splice(0)) session.blobReady(d);
      for (const d of streaming.splice(0)) session.blobStarted(d);
    })();
    const blobs = mapLimit(manifest.layers, BLOB_CONCURRENCY, async (l) => {
      try {
        await fetchBlob(l, 'layer', () => (session ? session.blobStarted(l.digest) : streaming.push(l.digest)));
      } catch (err) {
        unstream(l.digest);
        session?.blobFailed(l.digest);
        throw err;
      }
      unstream(l.digest);
      if (session) session.blobReady(l.digest);
      else ready.push(l.digest);
    });
    // Both settle before anything is thrown: no download may go on once the gc lock is released.
    const settled = await Promise.allSettled([withConfig, blobs, stored.written]);
    // The config's own write, which the session did not wait for.
    if (configStored) settled.push(...(await Promise.allSettled([configStored])));
    for (const r of settled) if (r.status === 'rejected') throw r.reason;
    lap('pull: blobs stored');
    if (!config || !session) throw new Error('unreachable');
    const now = new Date().toISOString();
    const index = new ImageIndex(store);
    // keyv, which the record's write needs, is loaded while the last layers unpack.
    if (session.busy) index.prepareWrite();
    const previous = await index.get(opened.reference);
    const record: ImageRecord = {
      reference: opened.reference,
      repository: given ? given.repository : spec.repository,
      ...((given ? given.tag : spec.tag) !== undefined ? { tag: (given ? given.tag : spec.tag)! } : {}),
      manifestDigest,
      manifestMediaType: parsed.mediaType,
      ...(indexDigest ? { indexDigest } : {}),
      platform: platform.normalizePlatform({ os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) }),
      configDigest: manifest.config.digest,
      config,
      layers,
      size: manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0),
      pulledAt: previous?.manifestDigest === manifestDigest ? previous.pulledAt : now,
      lastUsed: now,
    };
    if (session.busy) ev.phase?.('unpacking');
    const unpacked = await session.finish();
    lap('pull: unpacked');
    const closed = session.closed();
    session = undefined;
    record.unpackedSize = unpacked.unpackedSize;
    try {
      await index.put(record);
    } finally {
      await closed;
    }
    lap('pull: recorded');
    return { record, fetchedBytes: fetched, fromStore: false };
  } catch (err) {
    await session?.abort().catch(() => undefined);
    await runner?.abort().catch(() => undefined);
    throw err;
  } finally {
    // A lock still being taken when the pull failed is released once it is held, and never
    // while the manifest is still being written.
    await stored?.written.catch(() => undefined);
    gc ??= await locking?.catch(() => undefined);
    gc?.release();
    await source?.close?.().catch(() => undefined);
  }
}

/** Unpacks the layers the store lacks (each once, keyed by diff_id); returns the image's unpacked size. */
async function unpack(store: Store, record: ImageRecord, ev: PullEvents | undefined): Promise<number> {
  if (!(await layersPresent(store, record))) ev?.phase?.('unpacking');
  const { ensureUnpacked } = await import('../layers/index.js');
  const r = await ensureUnpacked(store, record.layers, {});
  return r.unpackedSize;
}
