/** Types of the OCI image and distribution specs that every image source and the store share. Pure, no I/O. */
import type { Readable } from 'node:stream';

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNdGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayerNd: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNdZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** `sha256:` + 64 lowercase hex; nothing else is ever used as a file name or in a URL. */
export type Digest = `sha256:${string}`;

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  urls?: string[];
}

export interface IndexManifest {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** The parts of the image config that flux honours (OCI image-spec config.md). */
export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    ExposedPorts?: Record<string, object>;
    Labels?: Record<string, string>;
    StopSignal?: string;
  };
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: unknown[];
  created?: string;
}

/** A manifest as fetched: the exact bytes (their digest is the manifest's identity) and its media type. */
export interface RawManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

/**
 * Where images come from: a registry (src/registry), an OCI layout or archive (src/sources).
 * The pull orchestrator only ever talks to this interface.
 */
export interface ImageSource {
  /** Human-readable name for messages, e.g. `docker.io/library/alpine:latest`. */
  readonly name: string;
  /** The manifest (index or image manifest) that the reference names; by tag or by digest. */
  getManifest(tagOrDigest?: string): Promise<RawManifest>;
  /** A stream of the blob's bytes from `offset` on; the caller verifies size and digest. */
  openBlob(desc: Descriptor, offset?: number): Promise<Readable>;
  /** Releases files, sockets. */
  close?(): Promise<void>;
}
