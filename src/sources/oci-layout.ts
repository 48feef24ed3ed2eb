/** An OCI image layout (image-spec image-layout.md) as an image source: a directory or a tar of one. */
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { FluxError } from '../errors.js';
import { digestHex, isDigest } from '../image/digest.js';
import { parseReference } from '../image/reference.js';
import { sha256Digest } from '../image/sha256.js';
import type { Descriptor, Digest, ImageSource, RawManifest } from '../image/types.js';
import { dirFiles, tarFiles, type LayoutFiles } from './layout-files.js';
import { TarIndex } from './tar-index.js';

const REF_NAME = 'org.opencontainers.image.ref.name';
// containerd's and Docker's full name of an entry, whose ref.name then holds only the tag.
const FULL_NAME = 'io.containerd.image.name';

interface LayoutIndexEntry {
  mediaType?: string;
  digest?: string;
  size?: number;
  annotations?: Record<string, string>;
}

/** The names an entry answers to: its ref.name and its full name. */
function names(e: LayoutIndexEntry): string[] {
  return [e.annotations?.[REF_NAME], e.annotations?.[FULL_NAME]].filter((n): n is string => !!n);
}

/** The name that tells an entry from the others: the full one when it has it. */
function shownName(e: LayoutIndexEntry): string | undefined {
  return e.annotations?.[FULL_NAME] || e.annotations?.[REF_NAME] || undefined;
}

/** Whether `given` names `name`: as written, or as the same registry reference (`alpine` is `docker.io/library/alpine:latest`). */
function sameName(name: string, given: string): boolean {
  if (name === given) return true;
  // A bare `latest` would read as docker.io/library/latest: only a name with a '/' or ':' is a reference.
  if (!/[/:]/.test(given) || !/[/:]/.test(name)) return false;
  try {
    return parseReference(name).toString() === parseReference(given).toString();
  } catch {
    return false;
  }
}

/** Several entries of one manifest (one image under two names) are one image, not a choice. */
function oneImage(entries: LayoutIndexEntry[]): boolean {
  return new Set(entries.map((e) => e.digest)).size === 1;
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
    const shown = [...new Set(entries.map(shownName).filter((n): n is string => n !== undefined))];
    if (tag === undefined) {
      if (entries.length > 0 && oneImage(entries)) return entries[0]!;
      const latest = entries.filter((e) => e.annotations?.[REF_NAME] === 'latest');
      if (latest.length > 0 && oneImage(latest)) return latest[0]!;
      throw new FluxError('AMBIGUOUS_IMAGE', `${this.name} holds ${new Set(entries.map((e) => e.digest)).size} images; say which one.`, {
        hint: shown.length > 0 ? `Add one of these names after a colon: ${shown.join(', ')}.` : 'Add a tag after a colon.',
        exitCode: 125,
      });
    }
    // A name the entry carries whole wins over a tag at the end of one: `latest` is not also
    // every `…:latest` of a layout whose ref.name holds full references.
    const exact = entries.filter((e) => names(e).some((n) => sameName(n, tag)));
    const found = exact.length > 0 ? exact : entries.filter((e) => names(e).some((n) => n.endsWith(`:${tag}`)));
    if (found.length > 0 && oneImage(found)) return found[0]!;
    if (found.length > 0) {
      // The first of several would be a guess: docker's and flux's archives give every image's
      // ref.name as its bare tag, so `latest` often fits more than one.
      const choices = [...new Set(found.map(shownName).filter((n): n is string => n !== undefined))];
      throw new FluxError('AMBIGUOUS_IMAGE', `${this.name} holds ${new Set(found.map((e) => e.digest)).size} different images tagged "${tag}": ${choices.join(', ')}.`, {
        hint: 'Name one of them in full after the colon.',
        exitCode: 125,
      });
    }
    throw new FluxError('TAG_NOT_FOUND', `${this.name} has no image tagged "${tag}".`, {
      hint: shown.length > 0 ? `Its images are: ${shown.join(', ')}.` : 'It has no tagged images; leave the tag out.',
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
