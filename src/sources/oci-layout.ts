/** An OCI image layout (image-spec image-layout.md) as an image source: a directory or a tar of one. */
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { FluxError } from '../errors.js';
import { digestHex, isDigest } from '../image/digest.js';
import { sha256Digest } from '../image/sha256.js';
import type { Descriptor, Digest, ImageSource, RawManifest } from '../image/types.js';
import { dirFiles, tarFiles, type LayoutFiles } from './layout-files.js';
import { TarIndex } from './tar-index.js';

const REF_NAME = 'org.opencontainers.image.ref.name';

interface LayoutIndexEntry {
  mediaType?: string;
  digest?: string;
  size?: number;
  annotations?: Record<string, string>;
}

export class OciLayoutSource implements ImageSource {
  private entries: LayoutIndexEntry[] | undefined;

  constructor(readonly name: string, private readonly files: LayoutFiles, private readonly tag: string | undefined) {}

  static async fromDir(dir: string, tag: string | undefined, name: string): Promise<OciLayoutSource> {
    const st = await stat(dir).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw new FluxError('SOURCE_NOT_FOUND', `${dir} is not a directory holding an OCI image layout.`, {
        hint: 'Check the path after "oci:"; an OCI layout has an index.json and blobs/sha256/.',
        exitCode: 125,
      });
    }
    return new OciLayoutSource(name, dirFiles(dir), tag);
  }

  static async fromArchive(file: string, tag: string | undefined, name: string): Promise<OciLayoutSource> {
    return new OciLayoutSource(name, tarFiles(await TarIndex.open(file, 'OCI archive')), tag);
  }

  private broken(what: string): FluxError {
    return new FluxError('BAD_LAYOUT', `${this.name} is not a valid OCI image layout: ${what}.`, {
      hint: 'Write it again with `skopeo copy` or `podman save --format oci-archive`.',
    });
  }

  private async index(): Promise<LayoutIndexEntry[]> {
    if (this.entries) return this.entries;
    const raw = await this.files.read('index.json');
    if (!raw) throw this.broken('it has no index.json');
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw this.broken('index.json is not JSON');
    }
    const manifests = (body as { manifests?: unknown }).manifests;
    if (!Array.isArray(manifests)) throw this.broken('index.json lists no manifests');
    this.entries = manifests.filter((m): m is LayoutIndexEntry => typeof m === 'object' && m !== null);
    return this.entries;
  }

  private async pick(tag: string | undefined): Promise<LayoutIndexEntry> {
    const entries = await this.index();
    const names = entries.map((e) => e.annotations?.[REF_NAME]).filter((n): n is string => !!n);
    if (tag === undefined) {
      if (entries.length === 1) return entries[0]!;
      const latest = entries.filter((e) => e.annotations?.[REF_NAME] === 'latest');
      if (latest.length === 1) return latest[0]!;
      throw new FluxError('AMBIGUOUS_IMAGE', `${this.name} holds ${entries.length} images; say which one.`, {
        hint: names.length > 0 ? `Add one of these tags after a colon: ${names.join(', ')}.` : 'Add a tag after a colon.',
        exitCode: 125,
      });
    }
    const exact = entries.find((e) => e.annotations?.[REF_NAME] === tag);
    const suffix = exact ?? entries.find((e) => e.annotations?.[REF_NAME]?.endsWith(`:${tag}`));
    if (suffix) return suffix;
    throw new FluxError('TAG_NOT_FOUND', `${this.name} has no image tagged "${tag}".`, {
      hint: names.length > 0 ? `Its tags are: ${names.join(', ')}.` : 'It has no tagged images; leave the tag out.',
      exitCode: 125,
    });
  }

  private async blob(digest: string, size: number | undefined, what: string): Promise<Buffer> {
    if (!isDigest(digest)) throw this.broken(`the ${what} has the invalid digest ${JSON.stringify(String(digest).slice(0, 80))}`);
    const bytes = await this.files.read(`blobs/sha256/${digestHex(digest)}`);
    if (!bytes) throw this.broken(`it lacks the ${what} blob ${digest.slice(0, 19)}…`);
    if ((size !== undefined && bytes.length !== size) || sha256Digest(bytes) !== digest) {
      throw new FluxError('DIGEST_MISMATCH', `the ${what} blob ${digest.slice(0, 19)}… in ${this.name} does not match its digest.`, {
        hint: 'The layout is corrupt; write it again.',
      });
    }
    return bytes;
  }

  async getManifest(tagOrDigest?: string): Promise<RawManifest> {
    if (tagOrDigest !== undefined && tagOrDigest.startsWith('sha256:')) {
      const entry = (await this.index()).find((e) => e.digest === tagOrDigest);
      const bytes = await this.blob(tagOrDigest, entry?.size, 'manifest');
      return { bytes, mediaType: entry?.mediaType ?? '', digest: tagOrDigest as Digest };
    }
    const entry = await this.pick(tagOrDigest ?? this.tag);
    const bytes = await this.blob(String(entry.digest), entry.size, 'manifest');
    return { bytes, mediaType: entry.mediaType ?? '', digest: entry.digest as Digest };
  }

  async openBlob(desc: Descriptor, offset = 0): Promise<Readable> {
    if (!isDigest(desc.digest)) throw this.broken(`a blob has the invalid digest ${JSON.stringify(String(desc.digest).slice(0, 80))}`);
    const s = await this.files.open(`blobs/sha256/${digestHex(desc.digest)}`, offset);
    if (!s) throw this.broken(`it lacks the blob ${desc.digest.slice(0, 19)}…`);
    return s;
  }
}
