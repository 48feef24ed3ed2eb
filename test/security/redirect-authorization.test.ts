/**
 * Blob downloads redirected to storage on another host must not carry the registry's
 * credentials there (distribution-spec; the class of leak behind several registry-client CVEs).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { fixtureInfo, pushFixtures } from '../helpers/fixtures.js';
import { requireTool } from '../helpers/require.js';
import { parseReference } from '../../src/image/reference.js';
import { RegistrySource } from '../../src/registry/source.js';
import type { Descriptor } from '../../src/image/types.js';

requireTool('docker-registry');
requireTool('skopeo');

async function sha(s: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const c of s) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

describe.each([
  ['basic', 307],
  ['token', 307],
  ['token', 302],
  ['basic', 301],
] as const)('%s auth, blobs redirected with %i', (auth, status) => {
  let reg: Registry;
  beforeAll(async () => {
    reg = await startRegistry({
      auth,
      redirectBlobsTo: status,
      // Ranged blob GETs are redirected here directly (the proxy only redirects what a plain HEAD finds).
      intercept: (req, res) => {
        const m = /\/blobs\/(sha256:[a-f0-9]{64})$/.exec(req.url ?? '');
        if (!m || !req.headers.range || !req.headers.authorization) return false;
        res.writeHead(status, { location: `${reg.blobServer!.url}/blobs/${m[1]}?sig=x` }).end();
        return true;
      },
    });
    await pushFixtures(reg, ['busybox']);
  }, 120_000);
  afterAll(async () => reg?.stop());

  it('follows the redirect, gets the right bytes, and sends no Authorization to the storage host', async () => {
    const info = await fixtureInfo('busybox');
    const src = new RegistrySource(parseReference(`${reg.host}/busybox`), {
      config: { mirrors: {}, insecure: [] },
      credentials: { username: reg.username!, password: reg.password! },
    });
    const before = reg.blobServer!.requests.length;
    const blobs = [info.config!, ...info.layers!.map((l) => l.digest)];
    for (const d of info.layers!) expect(await sha(await src.openBlob(d as Descriptor))).toBe(d.digest);
    const requests = reg.blobServer!.requests.slice(before);
    expect(requests.length).toBe(info.layers!.length);
    for (const r of requests) {
      expect(r.headers.authorization).toBeUndefined();
      expect(r.headers.cookie).toBeUndefined();
    }
    // The registry itself did get credentials for the same blobs (so the test can fail). With no
    // /v2/ ping first, a client's first blob request goes without them and learns the challenge
    // from its 401; every later one carries them.
    const toRegistry = reg.proxyRequests.filter((r) => r.url.includes('/blobs/'));
    expect(toRegistry.length).toBeGreaterThan(0);
    expect(toRegistry.slice(1).every((r) => typeof r.headers.authorization === 'string')).toBe(true);
    expect(toRegistry.some((r) => typeof r.headers.authorization === 'string')).toBe(true);
    expect(blobs.length).toBeGreaterThan(1);
  });

  it('resumes through the redirect with Range', async () => {
    const info = await fixtureInfo('busybox');
    const layer = info.layers![0]! as Descriptor;
    const src = new RegistrySource(parseReference(`${reg.host}/busybox`), {
      config: { mirrors: {}, insecure: [] },
      credentials: { username: reg.username!, password: reg.password! },
    });
    const chunks: Buffer[] = [];
    for await (const c of await src.openBlob(layer, 4096)) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).length).toBe(layer.size - 4096);
    const last = reg.blobServer!.requests.at(-1)!;
    expect(last.headers.range).toBe('bytes=4096-');
    expect(last.headers.authorization).toBeUndefined();
  });
});
