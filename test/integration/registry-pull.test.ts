/** The registry side of `flux pull`, through the binary as the unprivileged user. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chown, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { fixtureInfo, pushFixtures } from '../helpers/fixtures.js';
import { requireTool } from '../helpers/require.js';
import { isRoot, removeStore, runFlux, tempStore, testUser } from '../helpers/user.js';
import { MEDIA } from '../../src/image/types.js';

requireTool('docker-registry');
requireTool('skopeo');
requireTool('htpasswd');

const dirs: string[] = [];
async function dir(): Promise<string> {
  const d = await tempStore();
  dirs.push(d);
  return d;
}
async function own(path: string): Promise<void> {
  if (!isRoot) return;
  const u = await testUser();
  await chown(path, u.uid, u.gid);
}
async function blobFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (/^[a-f0-9]{64}$/.test(e.name) || /sha256/.test(d)) out.push(join(d, e.name));
    }
  };
  await walk(root);
  return out;
}

afterAll(async () => {
  for (const d of dirs) await removeStore(d);
});

describe('flux pull from registries that want a login', () => {
  let basic: Registry;
  let token: Registry;
  beforeAll(async () => {
    [basic, token] = await Promise.all([startRegistry({ auth: 'basic' }), startRegistry({ auth: 'token', redirectBlobsTo: 307 })]);
    await Promise.all([pushFixtures(basic, ['busybox']), pushFixtures(token, ['busybox'])]);
  }, 120_000);
  afterAll(async () => Promise.all([basic?.stop(), token?.stop()]));

  it('asks for `flux login` first, then pulls with the saved credentials', async () => {
    const home = await dir();
    const store = await dir();
    const denied = await runFlux(['pull', `${basic.host}/busybox`], { env: { HOME: home }, store });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr.trim().split('\n')).toHaveLength(1);
    expect(denied.stderr).toContain(`flux login ${basic.host}`);
    expect(await blobFiles(store)).toEqual([]);
    const login = await runFlux(['login', '-u', basic.username!, '--password-stdin', basic.host], { env: { HOME: home }, input: basic.password! });
    expect(login.code).toBe(0);
    const ok = await runFlux(['pull', `${basic.host}/busybox`], { env: { HOME: home }, store });
    expect(ok.stderr).not.toContain('flux:');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain((await fixtureInfo('busybox')).digest);
    // The same walk that finds nothing after a refused pull finds the blobs of a good one.
    expect((await blobFiles(store)).length).toBeGreaterThanOrEqual(2);
  });

  it('pulls through a token registry whose blobs redirect, never sending credentials to the storage host', async () => {
    const home = await dir();
    const store = await dir();
    expect((await runFlux(['login', '-u', token.username!, '--password-stdin', token.host], { env: { HOME: home }, input: token.password! })).code).toBe(0);
    const before = token.blobServer!.requests.length;
    const r = await runFlux(['pull', `${token.host}/busybox`], { env: { HOME: home }, store });
    expect(r.stderr).not.toContain('flux:');
    expect(r.code).toBe(0);
    const hops = token.blobServer!.requests.slice(before);
    expect(hops.length).toBeGreaterThan(0);
    expect(hops.every((h) => h.headers.authorization === undefined)).toBe(true);
    expect(token.tokenRequests.some((t) => t.user === token.username && t.scopes.includes('repository:busybox:pull'))).toBe(true);
  });

  it('asks the manifest first, without a bare /v2/: its 401 carries the challenge, one token is fetched', async () => {
    const home = await dir();
    const store = await dir();
    expect((await runFlux(['login', '-u', token.username!, '--password-stdin', token.host], { env: { HOME: home }, input: token.password! })).code).toBe(0);
    const before = { proxy: token.proxyRequests.length, tokens: token.tokenRequests.length };
    const r = await runFlux(['pull', '-q', `${token.host}/busybox`], { env: { HOME: home }, store });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe((await fixtureInfo('busybox')).digest);
    const asked = token.proxyRequests.slice(before.proxy);
    expect(asked.filter((q) => q.url === '/v2/' || q.url === '/v2')).toEqual([]);
    // The manifest twice (without credentials, then with the token), then the blobs with the token.
    expect(asked.slice(0, 2).map((q) => [q.url, q.headers.authorization === undefined ? 'anonymous' : q.headers.authorization.split(' ')[0]])).toEqual([
      ['/v2/busybox/manifests/latest', 'anonymous'],
      ['/v2/busybox/manifests/latest', 'Bearer'],
    ]);
    expect(asked.slice(2).every((q) => q.url.startsWith('/v2/busybox/blobs/') && q.headers.authorization?.startsWith('Bearer '))).toBe(true);
    expect(token.tokenRequests.slice(before.tokens).map((t) => [t.user, t.scopes])).toEqual([[token.username, ['repository:busybox:pull']]]);
  });
});

describe('flux pull: missing images, hostile manifests, mirrors', () => {
  let reg: Registry;
  let mirror: Registry;
  beforeAll(async () => {
    reg = await startRegistry({
      intercept: (req, res) => {
        if (req.url === '/v2/evil/manifests/latest') {
          const body = JSON.stringify({
            schemaVersion: 2,
            mediaType: MEDIA.ociManifest,
            config: { mediaType: MEDIA.ociConfig, digest: `sha256:${'a'.repeat(64)}`, size: 2 },
            layers: [{ mediaType: MEDIA.ociLayerGzip, digest: 'sha256:../../../../../tmp/flux-cve-2024-3727-bin', size: 2 }],
          });
          res.writeHead(200, { 'content-type': MEDIA.ociManifest }).end(body);
          return true;
        }
        return false;
      },
    });
    mirror = await startRegistry({ intercept: () => false });
    await Promise.all([pushFixtures(reg, ['busybox']), pushFixtures(mirror, ['busybox'])]);
  }, 120_000);
  afterAll(async () => Promise.all([reg?.stop(), mirror?.stop()]));

  it('says there is no such tag', async () => {
    const r = await runFlux(['pull', `${reg.host}/busybox:nope`], { store: await dir() });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe(`flux: the image ${reg.host}/busybox:nope was not found on ${reg.host}: no such tag or digest. Check the image name and tag.`);
  });

  it('refuses a manifest with a path in a digest (CVE-2024-3727) and stores nothing', async () => {
    const store = await dir();
    const r = await runFlux(['pull', `${reg.host}/evil`], { store });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('invalid digest "sha256:../../../../../tmp/flux-cve-2024-3727-bin"');
    expect(await blobFiles(store)).toEqual([]);
    expect(reg.proxyRequests.filter((q) => q.url.includes('/blobs/'))).toEqual([]);
  });

  it('asks the mirror from ~/.config/flux/registries.json first', async () => {
    const home = await dir();
    await mkdir(join(home, '.config', 'flux'), { recursive: true });
    await writeFile(join(home, '.config', 'flux', 'registries.json'), JSON.stringify({ mirrors: { [reg.host]: [mirror.host] } }));
    await own(join(home, '.config'));
    await own(join(home, '.config', 'flux'));
    await own(join(home, '.config', 'flux', 'registries.json'));
    const before = { mirror: mirror.proxyRequests.length, origin: reg.proxyRequests.length };
    const r = await runFlux(['pull', `${reg.host}/busybox`], { env: { HOME: home }, store: await dir() });
    expect(r.stderr).not.toContain('flux:');
    expect(r.code).toBe(0);
    expect(mirror.proxyRequests.slice(before.mirror).some((q) => q.url === '/v2/busybox/manifests/latest')).toBe(true);
    expect(reg.proxyRequests.slice(before.origin).filter((q) => q.url.startsWith('/v2/busybox/'))).toEqual([]);
  });
});
