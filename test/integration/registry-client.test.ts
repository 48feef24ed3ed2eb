/** The registry client against the real distribution registry: auth modes, mirrors, ranges, errors. */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile, chmod, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { fixtureInfo, pushFixtures } from '../helpers/fixtures.js';
import { requireTool } from '../helpers/require.js';
import { parseReference } from '../../src/image/reference.js';
import { parseManifest } from '../../src/image/manifest.js';
import { RegistrySource } from '../../src/registry/source.js';
import type { BlobStream } from '../../src/registry/blob-stream.js';
import { FluxError } from '../../src/errors.js';
import { clearTokenCache } from '../../src/registry/auth.js';
import type { Descriptor } from '../../src/image/types.js';

requireTool('docker-registry');
requireTool('skopeo');

const NO_CONFIG = { mirrors: {}, insecure: [] };
let tmp: string;

async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function pullAll(src: RegistrySource): Promise<{ manifestDigest: string; blobs: Descriptor[] }> {
  const raw = await src.getManifest();
  const m = parseManifest(raw);
  if (m.kind !== 'image') throw new Error('expected an image manifest');
  const blobs = [m.manifest.config, ...m.manifest.layers];
  for (const d of blobs) {
    const bytes = await readAll(await src.openBlob(d));
    expect(bytes.length).toBe(d.size);
    expect(sha(bytes)).toBe(d.digest);
  }
  return { manifestDigest: raw.digest, blobs };
}

async function failure(p: Promise<unknown>): Promise<FluxError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FluxError) return e;
    throw e;
  }
  throw new Error('expected a FluxError');
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'flux-regclient-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});
const ENV_KEYS = ['HOME', 'PATH', 'REGISTRY_AUTH_FILE', 'XDG_RUNTIME_DIR', 'XDG_CONFIG_HOME'] as const;
let savedEnv: Record<string, string | undefined> = {};
beforeEach(async () => {
  // No credentials from the machine's own files. (Restored after each test: docker-registry reads
  // REGISTRY_* variables as configuration, so none may leak into registries started later.)
  clearTokenCache();
  savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  delete process.env.REGISTRY_AUTH_FILE;
  delete process.env.XDG_RUNTIME_DIR;
  delete process.env.XDG_CONFIG_HOME;
  process.env.HOME = join(tmp, 'empty-home');
});
afterEach(() => {
  for (const [k, v] of Object.entries(savedEnv)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
});

describe('anonymous registry', () => {
  let reg: Registry;
  beforeAll(async () => {
    reg = await startRegistry();
    await pushFixtures(reg, ['busybox', 'multiarch']);
  }, 120_000);
  afterAll(async () => reg?.stop());

  it('pulls a manifest and blobs, every byte verified', async () => {
    const info = await fixtureInfo('busybox');
    const src = new RegistrySource(parseReference(`${reg.host}/busybox:latest`), { config: NO_CONFIG });
    await src.ping();
    const { manifestDigest } = await pullAll(src);
    expect(manifestDigest).toBe(info.digest);
  });

  it('fetches a manifest by digest and an index with its media type', async () => {
    const info = await fixtureInfo('multiarch');
    const src = new RegistrySource(parseReference(`${reg.host}/multiarch@${info.digest}`), { config: NO_CONFIG });
    const raw = await src.getManifest();
    expect(raw.digest).toBe(info.digest);
    const m = parseManifest(raw);
    expect(m.kind).toBe('index');
    expect(raw.mediaType).toBe(info.mediaType);
  });

  it('resumes a blob with Range', async () => {
    const info = await fixtureInfo('busybox');
    const layer = info.layers![0]!;
    const src = new RegistrySource(parseReference(`${reg.host}/busybox`), { config: NO_CONFIG });
    const full = await readAll(await src.openBlob(layer as Descriptor));
    const stream = (await src.openBlob(layer as Descriptor, 1000)) as BlobStream;
    expect(stream.resumedFrom).toBe(1000);
    const rest = await readAll(stream);
    expect(rest.equals(full.subarray(1000))).toBe(true);
    expect(stream.rangeHonoured).toBe(true);
  });

  it('says "no such tag" for a missing tag and repository', async () => {
    const src = new RegistrySource(parseReference(`${reg.host}/busybox:nope`), { config: NO_CONFIG });
    const e = await failure(src.getManifest());
    expect(e.code).toBe('MANIFEST_UNKNOWN');
    expect(e.message).toBe(`the image ${reg.host}/busybox:nope was not found on ${reg.host}: no such tag or digest.`);
    const e2 = await failure(new RegistrySource(parseReference(`${reg.host}/nothing/here`), { config: NO_CONFIG }).getManifest());
    expect(['NAME_UNKNOWN', 'MANIFEST_UNKNOWN']).toContain(e2.code);
    expect(e2.hint).toMatch(/Check the image name/);
  });

  it('says the blob is missing when the registry lacks one', async () => {
    const src = new RegistrySource(parseReference(`${reg.host}/busybox`), { config: NO_CONFIG });
    const e = await failure(src.openBlob({ mediaType: 'x', digest: `sha256:${'0'.repeat(64)}`, size: 1 }));
    expect(e.code).toBe('BLOB_UNKNOWN');
  });

  it('names a registry that is not running', async () => {
    const src = new RegistrySource(parseReference('127.0.0.1:1/busybox'), { config: NO_CONFIG });
    const e = await failure(src.getManifest());
    expect(e.code).toBe('NETWORK');
    expect(e.message).toBe('cannot connect to the registry 127.0.0.1:1: connection refused.');
    expect(e.hint).toContain('--pull=never');
  });
});

describe('basic auth registry', () => {
  let reg: Registry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'basic' });
    await pushFixtures(reg, ['busybox']);
  }, 120_000);
  afterAll(async () => reg?.stop());

  it('pulls with credentials given', async () => {
    const src = new RegistrySource(parseReference(`${reg.host}/busybox`), { config: NO_CONFIG, credentials: { username: reg.username!, password: reg.password! } });
    await pullAll(src);
  });

  it('pulls with credentials from an auth file (podman format)', async () => {
    const file = join(tmp, 'basic-auth.json');
    await writeFile(file, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${reg.username}:${reg.password}`).toString('base64') } } }));
    process.env.REGISTRY_AUTH_FILE = file;
    await pullAll(new RegistrySource(parseReference(`${reg.host}/busybox`), { config: NO_CONFIG }));
  });

  it('asks for a login without credentials, and refuses wrong ones', async () => {
    const e = await failure(new RegistrySource(parseReference(`${reg.host}/busybox`), { config: NO_CONFIG }).getManifest());
    expect(e.code).toBe('UNAUTHORIZED');
    expect(e.hint).toContain(`flux login ${reg.host}`);
    const e2 = await failure(new RegistrySource(parseReference(`${reg.host}/busybox`), { config: NO_CONFIG, credentials: { username: reg.username!, password: 'wrong' } }).getManifest());
    expect(e2.code).toBe('UNAUTHORIZED');
  });
});

describe('token auth registry', () => {
  let anon: Registry;
  let priv: Registry;
  beforeAll(async () => {
    [anon, priv] = await Promise.all([startRegistry({ auth: 'token', anonymous: true }), startRegistry({ auth: 'token' })]);
    await Promise.all([pushFixtures(anon, ['busybox']), pushFixtures(priv, ['busybox'])]);
  }, 120_000);
  afterAll(async () => Promise.all([anon?.stop(), priv?.stop()]));

  it('gets an anonymous token for the pull scope (as from Docker Hub)', async () => {
    const before = anon.tokenRequests.length;
    await pullAll(new RegistrySource(parseReference(`${anon.host}/busybox`), { config: NO_CONFIG }));
    const seen = anon.tokenRequests.slice(before);
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(seen.every((r) => r.user === null)).toBe(true);
    expect(seen[0]!.scopes).toContain('repository:busybox:pull');
    expect(seen[0]!.service).toBe(anon.service);
    // One token serves the manifest and every blob.
    expect(seen.length).toBe(1);
  });

  it('buys a token with credentials, never sending them to the registry itself', async () => {
    const before = priv.tokenRequests.length;
    await pullAll(new RegistrySource(parseReference(`${priv.host}/busybox`), { config: NO_CONFIG, credentials: { username: priv.username!, password: priv.password! } }));
    const seen = priv.tokenRequests.slice(before);
    expect(seen[0]!.user).toBe(priv.username);
    expect(seen[0]!.scopes).toEqual(['repository:busybox:pull']);
  });

  it('uses a credential helper named in ~/.docker/config.json', async () => {
    const home = join(tmp, 'helper-home');
    const bin = join(tmp, 'helper-bin');
    await mkdir(join(home, '.docker'), { recursive: true });
    await mkdir(bin, { recursive: true });
    const log = join(tmp, 'helper.log');
    await writeFile(join(bin, 'docker-credential-test'), `#!/bin/sh\nread host\necho "$1 $host" >> ${log}\n[ "$host" = "${priv.host}" ] || { echo "credentials not found in native keychain"; exit 1; }\nprintf '{"ServerURL":"%s","Username":"${priv.username}","Secret":"${priv.password}"}' "$host"\n`);
    await chmod(join(bin, 'docker-credential-test'), 0o755);
    await writeFile(join(home, '.docker', 'config.json'), JSON.stringify({ credHelpers: { [priv.host]: 'test' } }));
    process.env.HOME = home;
    process.env.PATH = `${bin}:${process.env.PATH}`;
    const before = priv.tokenRequests.length;
    await pullAll(new RegistrySource(parseReference(`${priv.host}/busybox`), { config: NO_CONFIG }));
    expect(priv.tokenRequests.slice(before)[0]!.user).toBe(priv.username);
    const { readFile } = await import('node:fs/promises');
    expect((await readFile(log, 'utf8')).trim().split('\n')[0]).toBe(`get ${priv.host}`);
  });

  it('refuses without credentials when the issuer wants them', async () => {
    const e = await failure(new RegistrySource(parseReference(`${priv.host}/busybox`), { config: NO_CONFIG }).getManifest());
    expect(e.code).toBe('UNAUTHORIZED');
    expect(e.hint).toContain(`flux login ${priv.host}`);
  });
});

describe('token refresh', () => {
  let reg: Registry;
  let revoke = 0;
  beforeAll(async () => {
    reg = await startRegistry({
      auth: 'token',
      anonymous: true,
      // Refuses the next `revoke` bearer tokens as the registry would refuse expired ones.
      intercept: (req, res) => {
        if (revoke === 0 || !req.headers.authorization?.startsWith('Bearer ') || !req.url?.includes('/manifests/')) return false;
        revoke--;
        res.writeHead(401, {
          'content-type': 'application/json',
          'www-authenticate': `Bearer realm="${reg.tokenRealm}",service="${reg.service}",scope="repository:busybox:pull",error="invalid_token"`,
        });
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"token expired"}]}');
        return true;
      },
    });
    await pushFixtures(reg, ['busybox']);
  }, 120_000);
  afterAll(async () => reg?.stop());

  it('buys a fresh token when the registry refuses a cached one', async () => {
    const src = new RegistrySource(parseReference(`${reg.host}/busybox`), { config: NO_CONFIG });
    await src.getManifest();
    const before = reg.tokenRequests.length;
    await src.getManifest();
    expect(reg.tokenRequests.length).toBe(before);
    revoke = 1;
    await src.getManifest();
    expect(reg.tokenRequests.length).toBe(before + 1);
    expect(revoke).toBe(0);
  });

  it('gives up with one sentence when fresh tokens are refused too', async () => {
    revoke = 10;
    const e = await failure(new RegistrySource(parseReference(`${reg.host}/busybox`), { config: NO_CONFIG }).getManifest());
    expect(e.code).toBe('UNAUTHORIZED');
    expect(e.message).toBe(`the registry ${reg.host} requires authentication for ${reg.host}/busybox:latest.`);
    revoke = 0;
  });
});

describe('mirrors and retries', () => {
  let origin: Registry;
  let mirror: Registry;
  let flaky: Registry;
  let failures = 0;
  beforeAll(async () => {
    origin = await startRegistry();
    mirror = await startRegistry({ intercept: () => false });
    flaky = await startRegistry({
      intercept: (req, res) => {
        if (req.url?.includes('/manifests/') && failures > 0) {
          failures--;
          res.writeHead(503, { 'retry-after': '0' }).end();
          return true;
        }
        return false;
      },
    });
    await Promise.all([pushFixtures(origin, ['busybox']), pushFixtures(mirror, ['busybox']), pushFixtures(flaky, ['busybox'])]);
  }, 120_000);
  afterAll(async () => Promise.all([origin?.stop(), mirror?.stop(), flaky?.stop()]));

  it('asks the mirror first', async () => {
    const before = mirror.proxyRequests.length;
    const config = { mirrors: { [origin.host]: [mirror.host] }, insecure: [] };
    const src = new RegistrySource(parseReference(`${origin.host}/busybox`), { config });
    expect(src.endpoints.map((e) => e.host)).toEqual([mirror.host, origin.host]);
    await pullAll(src);
    const seen = mirror.proxyRequests.slice(before).map((r) => r.url);
    expect(seen.some((u) => u.includes('/manifests/latest'))).toBe(true);
    expect(seen.filter((u) => u.includes('/blobs/')).length).toBe(2);
  });

  it('falls back to the origin when the mirror lacks the image', async () => {
    const notices: string[] = [];
    const config = { mirrors: { [origin.host]: [mirror.host] }, insecure: [] };
    const src = new RegistrySource(parseReference(`${origin.host}/busybox:nope`), { config, onNotice: (m) => notices.push(m) });
    const e = await failure(src.getManifest());
    expect(e.code).toBe('MANIFEST_UNKNOWN');
    expect(notices[0]).toContain(`mirror ${mirror.host} failed`);
    const down = new RegistrySource(parseReference(`${origin.host}/busybox`), { config: { mirrors: { [origin.host]: ['127.0.0.1:1'] }, insecure: [] }, onNotice: (m) => notices.push(m) });
    await pullAll(down);
    // The mirror's error is quoted inside the notice, without its own full stop.
    expect(notices.at(-1)).toMatch(/^mirror 127\.0\.0\.1:1 failed \(.*[^.]\); trying /);
  });

  it('retries a 503 and then succeeds', async () => {
    failures = 2;
    const retries: number[] = [];
    const src = new RegistrySource(parseReference(`${flaky.host}/busybox`), { config: NO_CONFIG, onRetry: (i) => retries.push(i.attempt) });
    await pullAll(src);
    expect(retries).toEqual([1, 2]);
    expect(failures).toBe(0);
  });

  it('gives up after three tries with one sentence', async () => {
    failures = 5;
    const src = new RegistrySource(parseReference(`${flaky.host}/busybox`), { config: NO_CONFIG });
    const e = await failure(src.getManifest());
    expect(e.message).toBe(`the registry ${flaky.host} answered HTTP 503 for ${flaky.host}/busybox:latest.`);
    expect(failures).toBe(2);
    failures = 0;
  });
});
