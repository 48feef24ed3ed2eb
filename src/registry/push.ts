/**
 * Pushing an image to a registry (distribution-spec push flow): each blob is asked for with
 * HEAD first and sent only when the registry lacks it; from another repository of the same
 * registry it is mounted (`POST …/uploads/?mount=&from=`) instead of sent; a blob is sent in one
 * PUT; the manifest goes last, byte for byte, so its digest is the stored one. Pushes go to the
 * origin registry, never to a mirror (mirrors are for pulling).
 */
import type { Readable } from 'node:stream';
import { FluxError } from '../errors.js';
import type { Reference } from '../image/reference.js';
import type { Digest, RawManifest } from '../image/types.js';
import { RegistryClient } from './client.js';
import { registryEndpoints, type RegistriesConfig } from './config.js';
import { lookupCredentials, type Credentials } from './credentials.js';
import { RegistryError } from './errors.js';
import { discard, type HttpResponse } from './http.js';

export interface PushBlob {
  digest: Digest;
  size: number;
  /** A fresh stream of the blob's bytes (a retry opens another). */
  open(): Readable;
}

export interface PushOptions {
  insecure?: boolean;
  credentials?: Credentials | null;
  config?: RegistriesConfig;
  /** A repository of the same registry that has the blobs (where the image was pulled from). */
  mountFrom?: string;
  onBlob?: (digest: Digest, outcome: 'present' | 'mounted' | 'sent') => void;
}

export interface PushResult {
  /** The manifest's digest (as stored locally: the bytes are sent unchanged). */
  digest: Digest;
  sent: number;
  present: number;
  mounted: number;
  sentBytes: number;
}

function noLocation(registry: string, what: string): RegistryError {
  return new RegistryError('BAD_UPLOAD', `the registry ${registry} started an upload of ${what} without saying where to send it.`, { hint: 'Contact the registry operator: the registry is misconfigured.' });
}

export async function pushToRegistry(ref: Reference, manifest: RawManifest, blobs: PushBlob[], o: PushOptions = {}): Promise<PushResult> {
  const origin = registryEndpoints(ref, { insecure: o.insecure, config: o.config }).find((e) => !e.mirror)!;
  const mountFrom = o.mountFrom !== undefined && o.mountFrom !== ref.repository ? o.mountFrom : undefined;
  const client = new RegistryClient(origin, {
    registry: ref.registry,
    repository: ref.repository,
    credentials: o.credentials,
    lookupCredentials: (registry, repository) => lookupCredentials(registry, repository),
    push: true,
    ...(mountFrom !== undefined ? { alsoPullFrom: [mountFrom] } : {}),
  });
  if (ref.digest !== undefined && ref.digest !== manifest.digest) {
    throw new FluxError('DIGEST_MISMATCH', `the image's manifest is ${manifest.digest.slice(0, 19)}…, not the ${ref.digest.slice(0, 19)}… the destination names.`, {
      hint: 'Push to a tag, or leave the digest out of the destination.',
      exitCode: 125,
    });
  }
  const tagOrDigest = ref.digest ?? ref.tag ?? 'latest';
  const repo = ref.repository;
  const result: PushResult = { digest: manifest.digest, sent: 0, present: 0, mounted: 0, sentBytes: 0 };
  const location = (res: HttpResponse, what: string): URL => {
    const l = res.headers.location;
    discard(res);
    if (!l) throw noLocation(ref.registry, what);
    return new URL(l, res.url);
  };
  for (const b of blobs) {
    const what = `blob ${b.digest}`;
    // Named as the push it belongs to: a 401 or 403 here is about the destination, not the blob.
    const ctx = { what: `a push to ${ref.toString()}`, kind: 'blob' as const };
    const head = await client.request('HEAD', `/v2/${repo}/blobs/${b.digest}`, {}, ctx);
    discard(head);
    if (head.status === 200) {
      result.present++;
      o.onBlob?.(b.digest, 'present');
      continue;
    }
    let upload: URL;
    if (mountFrom !== undefined) {
      const m = await client.request('POST', `/v2/${repo}/blobs/uploads/?mount=${b.digest}&from=${encodeURIComponent(mountFrom)}`, { 'content-length': '0' }, ctx);
      if (m.status === 201) {
        discard(m);
        result.mounted++;
        o.onBlob?.(b.digest, 'mounted');
        continue;
      }
      // 202: the registry could not mount and opened an ordinary upload instead.
      upload = location(m, what);
    } else {
      upload = location(await client.request('POST', `/v2/${repo}/blobs/uploads/`, { 'content-length': '0' }, ctx), what);
    }
    upload.searchParams.set('digest', b.digest);
    const put = await client.request('PUT', upload, { 'content-type': 'application/octet-stream', 'content-length': String(b.size) }, ctx, () => b.open());
    discard(put);
    if (put.status !== 201 && put.status !== 204) {
      throw new RegistryError(`HTTP_${put.status}`, `the registry ${ref.registry} answered HTTP ${put.status} to the upload of ${what}.`, { hint: 'Contact the registry operator: the registry is misconfigured.', status: put.status });
    }
    result.sent++;
    result.sentBytes += b.size;
    o.onBlob?.(b.digest, 'sent');
  }
  const put = await client.request('PUT', `/v2/${repo}/manifests/${tagOrDigest}`, { 'content-type': manifest.mediaType, 'content-length': String(manifest.bytes.length) }, { what: `the manifest of ${ref.toString()}`, kind: 'manifest' }, () => manifest.bytes);
  discard(put);
  if (put.status !== 201 && put.status !== 200) {
    throw new RegistryError(`HTTP_${put.status}`, `the registry ${ref.registry} answered HTTP ${put.status} to the manifest of ${ref.toString()}.`, { hint: 'Contact the registry operator: the registry is misconfigured.', status: put.status });
  }
  return result;
}
