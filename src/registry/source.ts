/** A registry as an ImageSource: mirrors first, then the origin (podman's registries.conf semantics). */
import { FluxError } from '../errors.js';
import type { Reference } from '../image/reference.js';
import type { Descriptor, ImageSource, RawManifest } from '../image/types.js';
import type { BlobStream } from './blob-stream.js';
import { RegistryClient } from './client.js';
import { registryEndpoints, type Endpoint, type RegistriesConfig } from './config.js';
import { lookupCredentials, type Credentials } from './credentials.js';
import { DigestMismatchError } from './errors.js';
import type { RetryInfo } from './http.js';

export interface RegistrySourceOptions {
  /** Allow plain HTTP and unverified TLS for this pull (`--insecure`). */
  insecure?: boolean;
  /** Credentials for the origin registry; `null` forces anonymous; undefined looks them up in the auth files. */
  credentials?: Credentials | null;
  onRetry?: (info: RetryInfo & { what: string }) => void;
  /** One-line notices for people, e.g. a mirror that failed. */
  onNotice?: (message: string) => void;
  userAgent?: string;
  /** Overrides ~/.config/flux/registries.json (tests). */
  config?: RegistriesConfig;
}

export class RegistrySource implements ImageSource {
  readonly name: string;
  readonly ref: Reference;
  readonly endpoints: Endpoint[];
  private readonly clients: RegistryClient[];
  /** The endpoint that served the last manifest: blobs are asked there first. */
  private preferred = 0;

  constructor(ref: Reference, opts: RegistrySourceOptions = {}) {
    this.ref = ref;
    this.name = ref.toString();
    this.endpoints = registryEndpoints(ref, { insecure: opts.insecure, config: opts.config });
    this.clients = this.endpoints.map((ep) => new RegistryClient(ep, {
      registry: ep.mirror ? ep.host : ep.authHost,
      repository: ep.repository ?? ref.repository,
      credentials: ep.mirror ? undefined : opts.credentials,
      lookupCredentials: (registry, repository) => lookupCredentials(registry, repository),
      onRetry: opts.onRetry,
      userAgent: opts.userAgent,
    }));
    this.onNotice = opts.onNotice;
  }

  private readonly onNotice: ((message: string) => void) | undefined;

  /** Checks that the origin (or a mirror) answers and how it authenticates. */
  async ping(): Promise<void> {
    await this.tryEach((c) => c.ping());
  }

  /** Tries each endpoint in order; a failing mirror falls through to the next, the origin's error is the user's. */
  private async tryEach<T>(fn: (c: RegistryClient, i: number) => Promise<T>, start = 0): Promise<T> {
    const order = [...this.clients.keys()];
    if (start > 0) order.unshift(...order.splice(start, 1));
    let lastErr: unknown;
    for (const i of order) {
      const client = this.clients[i]!;
      try {
        return await fn(client, i);
      } catch (err) {
        lastErr = err;
        // A digest mismatch is never the origin's fault; still, a mirror serving wrong bytes is skipped.
        const isLast = i === order[order.length - 1];
        if (isLast || !(err instanceof FluxError)) throw err;
        if (client.endpoint.mirror || err instanceof DigestMismatchError) {
          this.onNotice?.(`mirror ${client.endpoint.host} failed (${err.message.replace(/\.$/, '')}); trying ${this.endpoints[order[order.indexOf(i) + 1]!]!.host}`);
          continue;
        }
        throw err;
      }
    }
    throw lastErr;
  }

  async getManifest(tagOrDigest?: string): Promise<RawManifest> {
    return this.tryEach(async (c, i) => {
      const m = await c.getManifest(tagOrDigest ?? this.ref.ref);
      this.preferred = i;
      return m;
    });
  }

  openBlob(desc: Descriptor, offset = 0): Promise<BlobStream> {
    return this.tryEach((c) => c.openBlob(desc, offset), this.preferred);
  }

  async close(): Promise<void> {
    // got shares Node's global keep-alive agent; nothing to release per source.
  }
}
