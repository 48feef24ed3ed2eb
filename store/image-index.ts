/** The image index: one record per image reference, on keyv over a crash-safe JSON file. */
import { join } from 'node:path';
import { Keyv } from 'keyv';
import { FluxError } from '../src/errors.js';
import type { Digest, ImageConfig, Platform } from '../src/image/types.js';
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
  private readonly kv: Keyv<ImageRecord>;

  constructor(store: Store) {
    this.adapter = new JsonFileAdapter(join(store.indexDir, 'images.json'), () => store.lock('index'));
    this.kv = new Keyv<ImageRecord>({ store: this.adapter, namespace: NAMESPACE, serialize: undefined, deserialize: undefined, throwOnErrors: true });
    // keyv re-emits adapter errors; without a listener an 'error' event would throw out of band.
    this.kv.on('error', () => undefined);
  }

  async get(reference: string): Promise<ImageRecord | undefined> {
    return this.kv.get(reference);
  }

  async put(record: ImageRecord): Promise<void> {
    await this.kv.set(record.reference, record);
  }

  async remove(references: string[]): Promise<void> {
    if (references.length > 0) await this.kv.delete(references);
  }

  async list(): Promise<ImageRecord[]> {
    const out: ImageRecord[] = [];
    for (const [key, raw] of await this.adapter.entries()) {
      if (!key.startsWith(`${NAMESPACE}:`)) continue;
      const value = (raw as { value?: ImageRecord } | undefined)?.value;
      if (value && typeof value === 'object') out.push(value);
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
    const exact = await this.get(name);
    if (exact) return [exact];
    const all = await this.list();
    const at = name.lastIndexOf('@sha256:');
    if (at > 0) {
      const repo = name.slice(0, at);
      const digest = name.slice(at + 1);
      const byRepo = all.filter((r) => (r.manifestDigest === digest || r.indexDigest === digest) && (r.repository === repo || r.reference === repo));
      return byRepo;
    }
    if (/^sha256:[a-f0-9]{64}$/.test(name)) {
      return all.filter((r) => r.manifestDigest === name || r.indexDigest === name || r.configDigest === name);
    }
    const hex = name.startsWith('sha256:') ? name.slice(7) : name;
    if (/^[a-f0-9]{4,64}$/.test(hex)) {
      const hits = all.filter((r) => r.configDigest.slice(7).startsWith(hex));
      const ids = new Set(hits.map((r) => r.configDigest));
      if (ids.size > 1) {
        throw new FluxError('AMBIGUOUS_ID', `The image ID prefix ${hex} matches ${ids.size} different images.`, {
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
