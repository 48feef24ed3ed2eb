/** A registry that lies: wrong bytes for a digest, wrong Content-Type, huge manifests, padded blobs. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { fixtureInfo, pushFixtures, type FixtureSummary } from '../helpers/fixtures.js';
import { requireTool } from '../helpers/require.js';
import { parseReference } from '../../src/image/reference.js';
import { RegistrySource } from '../../src/registry/source.js';
import { DigestMismatchError } from '../../src/registry/errors.js';
import { FluxError } from '../../src/errors.js';
import { MEDIA, type Descriptor } from '../../src/image/types.js';

requireTool('docker-registry');
requireTool('skopeo');

type Handler = (req: IncomingMessage, res: ServerResponse) => boolean;
let handler: Handler = () => false;
let reg: Registry;
let info: FixtureSummary;
const config = { mirrors: {}, insecure: [] };

beforeAll(async () => {
  reg = await startRegistry({ intercept: (req, res) => handler(req, res) });
  await pushFixtures(reg, ['busybox']);
  info = await fixtureInfo('busybox');
}, 120_000);
afterAll(async () => reg?.stop());

const src = (ref = 'busybox') => new RegistrySource(parseReference(`${reg.host}/${ref}`), { config, credentials: null });

async function failure(p: Promise<unknown>): Promise<FluxError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FluxError) return e;
    throw e;
  }
  throw new Error('expected a FluxError');
}

async function drain(p: Promise<NodeJS.ReadableStream>): Promise<number> {
  let n = 0;
  for await (const c of await p) n += (c as Buffer).length;
  return n;
}

function serve(match: RegExp, status: number, headers: Record<string, string | number>, body: Buffer | string): Handler {
  return (req, res) => {
    if (!match.test(req.url ?? '')) return false;
    res.writeHead(status, headers);
    res.end(body);
    return true;
  };
}

const otherManifest = JSON.stringify({
  schemaVersion: 2,
  mediaType: MEDIA.ociManifest,
  config: { mediaType: MEDIA.ociConfig, digest: `sha256:${'1'.repeat(64)}`, size: 1 },
  layers: [],
});

describe('hostile registry', () => {
  it('refuses a manifest whose bytes do not match the digest asked for', async () => {
    handler = serve(/\/manifests\/sha256:/, 200, { 'content-type': MEDIA.ociManifest }, otherManifest);
    const e = await failure(src(`busybox@${info.digest}`).getManifest());
    expect(e).toBeInstanceOf(DigestMismatchError);
    expect(e.code).toBe('DIGEST_MISMATCH');
    expect(e.message).toContain(`expected ${info.digest}`);
  });

  it('computes the digest of a tag itself and ignores a lying Docker-Content-Digest', async () => {
    handler = serve(/\/manifests\/latest$/, 200, { 'content-type': MEDIA.ociManifest, 'docker-content-digest': info.digest }, otherManifest);
    const raw = await src().getManifest();
    expect(raw.digest).not.toBe(info.digest);
    expect(raw.bytes.toString()).toBe(otherManifest);
  });

  it('refuses a manifest whose mediaType disagrees with its Content-Type', async () => {
    handler = serve(/\/manifests\/latest$/, 200, { 'content-type': MEDIA.ociIndex }, otherManifest);
    const e = await failure(src().getManifest());
    expect(e.code).toBe('MEDIA_TYPE_MISMATCH');
    expect(e.message).toBe(`the manifest of ${reg.host}/busybox:latest says it is "${MEDIA.ociManifest}" but was served as "${MEDIA.ociIndex}".`);
  });

  it('refuses a manifest over 4 MiB, by Content-Length and while streaming', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 0x20);
    handler = serve(/\/manifests\/latest$/, 200, { 'content-type': MEDIA.ociManifest, 'content-length': big.length }, big);
    expect((await failure(src().getManifest())).code).toBe('MANIFEST_TOO_LARGE');
    handler = (req, res) => {
      if (!/\/manifests\/latest$/.test(req.url ?? '')) return false;
      res.writeHead(200, { 'content-type': MEDIA.ociManifest, 'transfer-encoding': 'chunked' });
      res.end(big);
      return true;
    };
    expect((await failure(src().getManifest())).code).toBe('MANIFEST_TOO_LARGE');
  });

  it('refuses an unknown manifest media type and schema 1', async () => {
    handler = serve(/\/manifests\/latest$/, 200, { 'content-type': 'application/vnd.example.thing+json' }, otherManifest);
    expect((await failure(src().getManifest())).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    handler = serve(/\/manifests\/latest$/, 200, { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' }, '{"schemaVersion":1,"name":"x"}');
    expect((await failure(src().getManifest())).code).toBe('UNSUPPORTED_MANIFEST');
  });

  it('cuts off a padded blob at its descriptor size', async () => {
    const layer = info.layers![0]! as Descriptor;
    handler = serve(/\/blobs\//, 200, { 'content-type': 'application/octet-stream' }, Buffer.alloc(layer.size + 100, 1));
    await expect(drain(src().openBlob(layer))).rejects.toMatchObject({ code: 'BLOB_TOO_LARGE' });
  });

  it('reports a truncated blob', async () => {
    const layer = info.layers![0]! as Descriptor;
    handler = serve(/\/blobs\//, 200, { 'content-type': 'application/octet-stream' }, Buffer.alloc(10, 1));
    await expect(drain(src().openBlob(layer))).rejects.toMatchObject({ code: 'BLOB_TRUNCATED' });
  });

  it('skips the bytes itself when a server ignores Range', async () => {
    handler = (req, res) => {
      if (!/\/blobs\//.test(req.url ?? '')) return false;
      delete req.headers.range;
      return false;
    };
    const layer = info.layers![0]! as Descriptor;
    const s = await src().openBlob(layer, 100);
    expect(s.rangeHonoured).toBe(false);
    let n = 0;
    for await (const c of s) n += (c as Buffer).length;
    expect(n).toBe(layer.size - 100);
  });

  it('maps 429, 403 and 401 to their sentences', async () => {
    handler = serve(/\/manifests\/latest$/, 429, { 'content-type': 'application/json', 'retry-after': '3600' }, '{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}');
    const e429 = await failure(src().getManifest());
    expect(e429.code).toBe('TOOMANYREQUESTS');
    expect(e429.message).toBe(`the registry ${reg.host} is rate-limiting requests (HTTP 429).`);
    handler = serve(/\/manifests\/latest$/, 403, { 'content-type': 'application/json' }, '{"errors":[{"code":"DENIED","message":"no"}]}');
    const e403 = await failure(src().getManifest());
    expect(e403.code).toBe('DENIED');
    expect(e403.message).toBe(`the registry ${reg.host} denied access to ${reg.host}/busybox:latest.`);
    handler = serve(/\/manifests\/latest$/, 401, { 'content-type': 'application/json' }, '{"errors":[{"code":"UNAUTHORIZED","message":"who"}]}');
    const e401 = await failure(src().getManifest());
    expect(e401.code).toBe('UNAUTHORIZED');
    expect(e401.hint).toContain(`flux login ${reg.host}`);
  });

  it('retries a 429 that asks for a short wait', async () => {
    let left = 1;
    handler = (req, res) => {
      if (!/\/manifests\/latest$/.test(req.url ?? '') || left === 0) return false;
      left--;
      res.writeHead(429, { 'retry-after': '0' }).end();
      return true;
    };
    const raw = await src().getManifest();
    expect(raw.digest).toBe(info.digest);
  });
});
