/**
 * The image index: one record per image reference, on keyv over a crash-safe JSON file. Reads go
 * straight to the file (it is plain JSON), so running a stored image never loads keyv.
 */
import { join } from 'node:path';
import type { Keyv } from 'keyv';
import { FluxError } from '../src/errors.js';
import type { Digest, ImageConfig, Platform } from '../src/image/types.js';
import { isDigest } from '../src/image/digest.js';
import { JsonFileAdapter } from './index-db.js';
import type { Store } from './store.js';

export interface LayerRecord {
  /** Digest of the blob as stored (compressed). */
  digest: Digest;
  /** Digest of the uncompressed tar: the unpacked layer's name under layers/. */
  diffId: Digest;
  size: number;
  mediaType: string;
}

export interface ImageRecord {
  /** Canonical name, e.g. `docker.io/library/alpine:latest`, `oci:/abs/dir:tag`. The index key. */
  reference: string;
  /** The reference without tag or digest, as `flux images` shows it. */
  repository: string;
  /** Tag, or undefined for an image pulled by digest only. */
  tag?: string;
  manifestDigest: Digest;
  manifestMediaType: string;
  /** The index (manifest list) the manifest was chosen from, if any. */
  indexDigest?: Digest;
  platform: Platform;
  configDigest: Digest;
  /** The parsed config, so running needs no second read. */
  config: ImageConfig;
  layers: LayerRecord[];
  /** Sum of the compressed layer sizes plus config. */
  size: number;
  /** Bytes of the unpacked layers, when the unpacker reported them. */
  unpackedSize?: number;
  pulledAt: string;
  lastUsed: string;
}

const NAMESPACE = 'images';

/** docker's IMAGE ID: the first 12 hex digits of the config digest. */
export function imageId(r: Pick<ImageRecord, 'configDigest'>): string {
  return r.configDigest.slice(7, 19);
}

export class ImageIndex {
  private readonly adapter: JsonFileAdapter;
  private kvReady: Promise<Keyv<ImageRecord>> | undefined;

  constructor(store: Store) {
    this.adapter = new JsonFileAdapter(join(store.indexDir, 'images.json'), () => store.lock('index'), store.root);
  }

  /** keyv, loaded on the first write. */
  private kv(): Promise<Keyv<ImageRecord>> {
    this.kvReady ??= import('./index-kv.js').then(({ openIndexKv }) => openIndexKv<ImageRecord>(this.adapter, NAMESPACE));
    return this.kvReady;
  }

  /** keyv's stored entry `{ value, expires? }` (or its JSON text) as a record. */
  private static record(raw: unknown): ImageRecord | undefined {
    let entry = raw;
    if (typeof entry === 'string') {
      try {
        entry = JSON.parse(entry) as unknown;
      } catch {
        return undefined;
      }
    }
    if (!entry || typeof entry !== 'object') return undefined;
    const { value, expires } = entry as { value?: unknown; expires?: unknown };
    if (typeof expires === 'number' && Date.now() > expires) return undefined;
    return value && typeof value === 'object' ? (value as ImageRecord) : undefined;
  }

  /** Loads keyv now, for a writer that has time to spare (a pull waiting for its unpacker). */
  prepareWrite(): void {
    this.kv().catch(() => undefined);
  }

  async get(reference: string): Promise<ImageRecord | undefined> {
    return ImageIndex.record(await this.adapter.get(`${NAMESPACE}:${reference}`));
  }

  async put(record: ImageRecord): Promise<void> {
    await (await this.kv()).set(record.reference, record);
  }

  async remove(references: string[]): Promise<void> {
    if (references.length > 0) await (await this.kv()).delete(references);
  }

  async list(): Promise<ImageRecord[]> {
    return ImageIndex.fromEntries(await this.adapter.entries());
  }

  private static fromEntries(entries: Array<[string, unknown]>): ImageRecord[] {
    const out: ImageRecord[] = [];
    for (const [key, raw] of entries) {
      if (!key.startsWith(`${NAMESPACE}:`)) continue;
      const value = ImageIndex.record(raw);
      if (value) out.push(value);
    }
    return out.sort((a, b) => a.reference.localeCompare(b.reference));
  }

  /** Records the time of use; best effort, a failure never stops a run. */
  async touch(reference: string, when = new Date()): Promise<void> {
    try {
      const r = await this.get(reference);
      if (r) await this.put({ ...r, lastUsed: when.toISOString() });
    } catch {
      // best effort
    }
  }

  /**
   * The records `name` designates, without any normalisation: an exact reference, `repo@sha256:…`
   * (a record of that repository with that manifest or index digest), a bare digest (manifest,
   * index or config), or an IMAGE ID prefix (at least 4 hex digits; ambiguous prefixes are refused).
   */
  async find(name: string): Promise<ImageRecord[]> {
    const entries = await this.adapter.entries();
    const exact = ImageIndex.record(entries.find(([k]) => k === `${NAMESPACE}:${name}`)?.[1]);
    if (exact) return [exact];
    const all = ImageIndex.fromEntries(entries);
    const at = name.lastIndexOf('@sha256:');
    if (at > 0) {
      const repo = name.slice(0, at);
      const digest = name.slice(at + 1);
      const byRepo = all.filter((r) => (r.manifestDigest === digest || r.indexDigest === digest) && (r.repository === repo || r.reference === repo));
      return byRepo;
    }
    if (isDigest(name)) {
      return all.filter((r) => r.manifestDigest === name || r.indexDigest === name || r.configDigest === name);
    }
    const hex = name.startsWith('sha256:') ? name.slice(7) : name;
    if (/^[a-f0-9]{4,64}$/.test(hex)) {
      const hits = all.filter((r) => r.configDigest.slice(7).startsWith(hex));
      const ids = new Set(hits.map((r) => r.configDigest));
      if (ids.size > 1) {
        throw new FluxError('AMBIGUOUS_ID', `the image ID prefix ${hex} matches ${ids.size} different images.`, {
          hint: 'Give more digits of the IMAGE ID, or the image name.',
        });
      }
      return hits;
    }
    return [];
  }
}

/** The run path's lookup: one file read, no network code. The first record `name` designates. */
export async function findImage(store: Store, name: string): Promise<ImageRecord | undefined> {
  return (await new ImageIndex(store).find(name))[0];
}
