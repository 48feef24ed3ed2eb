/**
 * `docker save` archives as an image source: manifest.json names a config (`<id>.json`) and
 * layer tars (uncompressed in the classic format, blobs/sha256/<hex> since Docker 25). The
 * equivalent OCI manifest is built in memory; layers are read in place from the archive.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { FluxError } from '../errors.js';
import { isDigest } from '../image/digest.js';
import { sha256Digest } from '../image/sha256.js';
import { MEDIA, type Descriptor, type Digest, type ImageManifest, type ImageSource, type RawManifest } from '../image/types.js';
import { TarIndex } from './tar-index.js';

interface SaveEntry {
  Config?: string;
  RepoTags?: string[] | null;
  Layers?: string[];
}

export class DockerArchiveSource implements ImageSource {
  private members = new Map<Digest, string>();
  private manifest: RawManifest | undefined;

  private constructor(readonly name: string, private readonly tar: TarIndex, private readonly want: string | undefined) {}

  static async open(file: string, want: string | undefined, name: string): Promise<DockerArchiveSource> {
    return new DockerArchiveSource(name, await TarIndex.open(file, 'docker archive'), want);
  }

  private broken(what: string): FluxError {
    return new FluxError('BAD_ARCHIVE', `${this.name} is not a valid docker archive: ${what}.`, {
      hint: 'Write it again with `docker save` or `podman save --format docker-archive`.',
    });
  }

  private async pick(): Promise<SaveEntry> {
    const raw = await this.tar.read('manifest.json');
    if (!raw) throw this.broken('it has no manifest.json');
    let list: unknown;
    try {
      list = JSON.parse(raw.toString('utf8'));
    } catch {
      throw this.broken('manifest.json is not JSON');
    }
    if (!Array.isArray(list) || list.length === 0) throw this.broken('manifest.json lists no images');
    const entries = list as SaveEntry[];
    const tags = entries.flatMap((e) => e.RepoTags ?? []);
    if (this.want === undefined) {
      if (entries.length === 1) return entries[0]!;
      throw new FluxError('AMBIGUOUS_IMAGE', `${this.name} holds ${entries.length} images; say which one.`, {
        hint: `Add one of these names after a colon: ${tags.join(', ')}.`,
        exitCode: 125,
      });
    }
    const w = this.want;
    const hit = entries.find((e) => (e.RepoTags ?? []).some((t) => t === w || t === `${w}:latest` || t.endsWith(`/${w}`) || t.endsWith(`/${w}:latest`)));
    if (hit) return hit;
    throw new FluxError('TAG_NOT_FOUND', `${this.name} holds no image named "${w}".`, {
      hint: tags.length > 0 ? `It holds: ${tags.join(', ')}.` : 'Its images have no names; leave the name out.',
      exitCode: 125,
    });
  }

  private async layerDescriptor(path: string, diffId: Digest | undefined): Promise<Descriptor> {
    const size = this.tar.size(path);
    if (size === undefined) throw this.broken(`it lacks the layer ${path}`);
    const head = await new Promise<Buffer>((resolve, reject) => {
      const s = this.tar.stream(path)!;
      const chunks: Buffer[] = [];
      let n = 0;
      s.on('data', (c: Buffer) => {
        chunks.push(c);
        n += c.length;
        if (n >= 4) s.destroy();
      });
      s.on('close', () => resolve(Buffer.concat(chunks)));
      s.on('error', reject);
    });
    let mediaType: string = MEDIA.ociLayer;
    if (head[0] === 0x1f && head[1] === 0x8b) mediaType = MEDIA.ociLayerGzip;
    else if (head.readUInt32LE(0) === 0xfd2fb528) mediaType = MEDIA.ociLayerZstd;
    const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(path);
    let digest: Digest;
    if (m) digest = `sha256:${m[1]}` as Digest;
    else if (mediaType === MEDIA.ociLayer && diffId) digest = diffId; // an uncompressed layer's digest is its diff_id
    else {
      const h = createHash('sha256');
      for await (const c of this.tar.stream(path)!) h.update(c as Buffer);
      digest = `sha256:${h.digest('hex')}`;
    }
    this.members.set(digest, path);
    return { mediaType, digest, size };
  }

  async getManifest(): Promise<RawManifest> {
    if (this.manifest) return this.manifest;
    const entry = await this.pick();
    if (!entry.Config || !Array.isArray(entry.Layers)) throw this.broken('its manifest.json entry lacks Config or Layers');
    const config = await this.tar.read(entry.Config);
    if (!config) throw this.broken(`it lacks the config ${entry.Config}`);
    const configDigest = sha256Digest(config);
    this.members.set(configDigest, entry.Config);
    let diffIds: unknown[] = [];
    try {
      diffIds = (JSON.parse(config.toString('utf8')) as { rootfs?: { diff_ids?: unknown[] } }).rootfs?.diff_ids ?? [];
    } catch {
      throw this.broken(`its config ${entry.Config} is not JSON`);
    }
    const layers: Descriptor[] = [];
    for (const [i, p] of entry.Layers.entries()) {
      const d = diffIds[i];
      layers.push(await this.layerDescriptor(p, isDigest(d) ? d : undefined));
    }
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, digest: configDigest, size: config.length },
      layers,
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    this.manifest = { bytes, mediaType: MEDIA.ociManifest, digest: sha256Digest(bytes) };
    return this.manifest;
  }

  async openBlob(desc: Descriptor, offset = 0): Promise<Readable> {
    if (!this.manifest) await this.getManifest();
    const path = this.members.get(desc.digest);
    const s = path === undefined ? undefined : this.tar.stream(path, offset);
    if (!s) throw this.broken(`it lacks the blob ${String(desc.digest).slice(0, 19)}…`);
    return s;
  }
}
