/**
 * Parsing and validating manifests (OCI index/manifest, Docker manifest list/schema2). Every
 * digest is checked here, before anything uses it as a file name or URL. Pure, no I/O.
 */
import { FluxError } from '../errors.js';
import { isDigest } from './digest.js';
import { MEDIA, type Descriptor, type ImageManifest, type IndexManifest, type Platform, type RawManifest } from './types.js';

/** Larger manifests are refused before parsing (containerd and the distribution registry use 4 MiB). */
export const MANIFEST_MAX_BYTES = 4 * 1024 * 1024;

const INDEX_TYPES = new Set<string>([MEDIA.ociIndex, MEDIA.dockerManifestList]);
const IMAGE_TYPES = new Set<string>([MEDIA.ociManifest, MEDIA.dockerManifest]);
const CONFIG_TYPES = new Set<string>([MEDIA.ociConfig, MEDIA.dockerConfig]);
const SCHEMA1_TYPES = new Set<string>([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);
/** Content-Types that say nothing about the manifest; the body's own mediaType decides then. */
const GENERIC_TYPES = new Set<string>(['', 'application/json', 'text/plain', 'application/octet-stream']);

/** The `Accept` header for manifest requests: every type flux understands, preferred first. */
export const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.dockerManifestList, MEDIA.ociManifest, MEDIA.dockerManifest].join(', ');

export function isManifestMediaType(t: string): boolean {
  return INDEX_TYPES.has(t) || IMAGE_TYPES.has(t);
}

export type ParsedManifest =
  | { kind: 'index'; mediaType: string; index: IndexManifest }
  | { kind: 'image'; mediaType: string; manifest: ImageManifest };

export type Compression = 'gzip' | 'zstd' | 'none';

const LAYER_COMPRESSION: Record<string, Compression> = {
  [MEDIA.ociLayer]: 'none',
  [MEDIA.ociLayerNd]: 'none',
  [MEDIA.ociLayerGzip]: 'gzip',
  [MEDIA.ociLayerNdGzip]: 'gzip',
  [MEDIA.ociLayerZstd]: 'zstd',
  [MEDIA.ociLayerNdZstd]: 'zstd',
  [MEDIA.dockerLayerGzip]: 'gzip',
  [MEDIA.dockerLayerForeignGzip]: 'gzip',
};

/** How a layer blob is compressed, from its media type; an unknown type is refused. */
export function layerCompression(mediaType: string): Compression {
  const c = Object.hasOwn(LAYER_COMPRESSION, mediaType) ? LAYER_COMPRESSION[mediaType] : undefined;
  if (c === undefined) {
    throw new FluxError('UNSUPPORTED_MEDIA_TYPE', `the image has a layer of unknown media type "${mediaType}".`, {
      hint: 'Use a container image: flux unpacks only OCI and Docker tar layers (uncompressed, gzip or zstd).',
    });
  }
  return c;
}

/** Media type without parameters (`; charset=utf-8`), lowercased. */
export function baseMediaType(t: string | undefined): string {
  return (t ?? '').split(';')[0]!.trim().toLowerCase();
}

function invalid(what: string, opts: { source?: string } = {}): FluxError {
  const from = opts.source ? ` from ${opts.source}` : '';
  return new FluxError('BAD_MANIFEST', `the manifest${from} is invalid: ${what}.`, {
    hint: 'The image source serves a broken or hostile manifest; check the image name or contact its publisher.',
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseDescriptor(v: unknown, where: string, source: string | undefined): Descriptor {
  if (!isObject(v)) throw invalid(`${where} is not an object`, { source });
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== 'string' || mediaType === '') throw invalid(`${where} has no mediaType`, { source });
  if (!isDigest(digest)) {
    const shown = typeof digest === 'string' ? JSON.stringify(digest.slice(0, 100)) : String(digest);
    throw new FluxError('BAD_DIGEST', `the manifest${source ? ` from ${source}` : ''} names ${where} by the invalid digest ${shown}.`, {
      hint: 'Do not use this image source: a digest must be "sha256:" followed by 64 lowercase hex digits, so it is broken or hostile.',
    });
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${where} has no valid size`, { source });
  const d: Descriptor = { mediaType, digest, size };
  if (v.platform !== undefined) {
    const p = v.platform;
    if (!isObject(p) || typeof p.os !== 'string' || typeof p.architecture !== 'string') throw invalid(`${where} has a malformed platform`, { source });
    const platform: Platform = { os: p.os, architecture: p.architecture };
    if (typeof p.variant === 'string' && p.variant !== '') platform.variant = p.variant;
    d.platform = platform;
  }
  if (isObject(v.annotations)) {
    const a: Record<string, string> = {};
    for (const [k, val] of Object.entries(v.annotations)) if (typeof val === 'string') a[k] = val;
    d.annotations = a;
  }
  if (Array.isArray(v.urls)) d.urls = v.urls.filter((u): u is string => typeof u === 'string');
  return d;
}

export interface ParseManifestOptions {
  /** Names the source in messages, e.g. `docker.io/library/alpine:latest`. */
  source?: string;
  /** Size bound in bytes; defaults to MANIFEST_MAX_BYTES. */
  maxBytes?: number;
}

/**
 * Validates a fetched manifest: size bound, JSON, schemaVersion 2, a media type the body and the
 * transport agree on, and every digest and size. Index entries of unknown media types are dropped.
 */
export function parseManifest(raw: RawManifest, opts: ParseManifestOptions = {}): ParsedManifest {
  const source = opts.source;
  const max = opts.maxBytes ?? MANIFEST_MAX_BYTES;
  if (raw.bytes.length > max) {
    throw new FluxError('MANIFEST_TOO_LARGE', `the manifest${source ? ` from ${source}` : ''} is ${raw.bytes.length} bytes, more than the ${max}-byte limit.`, {
      hint: 'Do not use this image: no real image needs a manifest that large, so its source is broken or hostile.',
    });
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.bytes.toString('utf8'));
  } catch (err) {
    throw invalid('it is not JSON', { source });
  }
  if (!isObject(body)) throw invalid('it is not a JSON object', { source });

  const declared = baseMediaType(raw.mediaType);
  const inBody = typeof body.mediaType === 'string' ? body.mediaType : undefined;
  if (SCHEMA1_TYPES.has(declared) || (inBody && SCHEMA1_TYPES.has(inBody)) || body.schemaVersion === 1) {
    throw new FluxError('UNSUPPORTED_MANIFEST', `the image${source ? ` ${source}` : ''} uses the obsolete Docker schema 1 manifest format.`, {
      hint: 'Rebuild or re-push the image with a current tool (schema 2 or OCI).',
    });
  }
  if (body.schemaVersion !== 2) throw invalid(`schemaVersion is ${JSON.stringify(body.schemaVersion)}, not 2`, { source });

  let mediaType: string;
  if (!GENERIC_TYPES.has(declared)) {
    if (!isManifestMediaType(declared)) {
      throw new FluxError('UNSUPPORTED_MEDIA_TYPE', `the manifest${source ? ` of ${source}` : ''} has the unknown media type "${declared}".`, {
        hint: 'Use an image with an OCI index or manifest, or a Docker manifest list or schema 2 manifest: the kinds flux understands.',
      });
    }
    if (inBody !== undefined && inBody !== declared) {
      throw new FluxError('MEDIA_TYPE_MISMATCH', `the manifest${source ? ` of ${source}` : ''} says it is "${inBody}" but was served as "${declared}".`, {
        hint: 'Contact the registry operator: a manifest whose type is ambiguous is refused, and the registry is misconfigured or hostile.',
      });
    }
    mediaType = declared;
  } else if (inBody !== undefined) {
    if (!isManifestMediaType(inBody)) {
      throw new FluxError('UNSUPPORTED_MEDIA_TYPE', `the manifest${source ? ` of ${source}` : ''} has the unknown media type "${inBody}".`, {
        hint: 'Use an image with an OCI index or manifest, or a Docker manifest list or schema 2 manifest: the kinds flux understands.',
      });
    }
    mediaType = inBody;
  } else {
    // OCI allows omitting mediaType; the fields then tell the two kinds apart.
    const hasManifests = 'manifests' in body;
    const hasLayers = 'layers' in body || 'config' in body;
    if (hasManifests === hasLayers) throw invalid('it is neither an image index nor an image manifest', { source });
    mediaType = hasManifests ? MEDIA.ociIndex : MEDIA.ociManifest;
  }

  if (INDEX_TYPES.has(mediaType)) {
    if ('layers' in body || 'config' in body) throw invalid('an index must not have layers or a config', { source });
    if (!Array.isArray(body.manifests)) throw invalid('the index has no list of manifests', { source });
    const manifests: Descriptor[] = [];
    body.manifests.forEach((m: unknown, i: number) => {
      if (isObject(m) && typeof m.mediaType === 'string' && !isManifestMediaType(m.mediaType)) return;
      manifests.push(parseDescriptor(m, `manifest #${i + 1}`, source));
    });
    return { kind: 'index', mediaType, index: { schemaVersion: 2, mediaType, manifests } };
  }

  if ('manifests' in body) throw invalid('an image manifest must not list manifests', { source });
  const config = parseDescriptor(body.config, 'the config', source);
  if (!CONFIG_TYPES.has(config.mediaType)) {
    throw new FluxError('UNSUPPORTED_MEDIA_TYPE', `${source ?? 'The artifact'} is not a container image: its config has media type "${config.mediaType}".`, {
      hint: 'Use an OCI or Docker container image: flux runs no other kind.',
    });
  }
  if (!Array.isArray(body.layers)) throw invalid('the manifest has no list of layers', { source });
  const layers = body.layers.map((l: unknown, i: number) => parseDescriptor(l, `layer #${i + 1}`, source));
  for (const l of layers) layerCompression(l.mediaType);
  return { kind: 'image', mediaType, manifest: { schemaVersion: 2, mediaType, config, layers } };
}
