import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { mkdtemp, rm } from 'node:fs/promises';
import tar from 'tar-stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../fixtures/build.mjs';
import { buildFixtures, fixtureInfo, pushFixtures, type FixtureSummary } from '../helpers/fixtures.js';
import { startRedirectingRegistry, startRegistry, type Registry } from '../helpers/registry.js';
import { requireTool } from '../helpers/require.js';

const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function tarEntries(blob: Buffer, decompress: (b: Buffer) => Buffer = gunzipSync) {
  const entries: Array<{ name: string; type: string; mode: number; uid: number; gid: number; linkname: string | null; body: string }> = [];
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        entries.push({ name: h.name, type: h.type ?? 'file', mode: h.mode ?? 0, uid: h.uid ?? 0, gid: h.gid ?? 0, linkname: h.linkname ?? null, body: Buffer.concat(chunks).toString() });
        next();
      });
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(decompress(blob));
  await done;
  return entries;
}

async function blob(dir: string, digest: string): Promise<Buffer> {
  return await readFile(join(dir, 'blobs/sha256', digest.slice('sha256:'.length)));
}

describe('registry modes', () => {
  beforeAll(() => {
    requireTool('docker-registry');
    requireTool('skopeo');
    requireTool('htpasswd');
    requireTool('openssl');
  });

  it('a registry started on a port another registry holds is refused, not mistaken for that one', async () => {
    const first = await startRegistry();
    try {
      const port = Number(first.directHost.split(':')[1]);
      // Ours cannot bind the port and exits, or the other one answers first: never a success.
      await expect(startRegistry({ port })).rejects.toThrow(new RegExp(`another registry answers on http://127\\.0\\.0\\.1:${port}|docker-registry exited`));
    } finally {
      await first.stop();
    }
  });

  it('no auth: accepts a push, serves the manifest by the fixture digest', async () => {
    const reg = await startRegistry();
    try {
      expect(reg.host).toMatch(/^127\.0\.0\.1:\d+$/);
      const ping = await fetch(`${reg.url}/v2/`);
      expect(ping.status).toBe(200);
      await pushFixtures(reg, ['busybox']);
      const info = await fixtureInfo('busybox');
      const r = await fetch(`${reg.url}/v2/busybox/manifests/latest`, { headers: { accept: MANIFEST_ACCEPT } });
      expect(r.status).toBe(200);
      expect(r.headers.get('docker-content-digest')).toBe(info.digest);
      expect(sha(Buffer.from(await r.arrayBuffer()))).toBe(info.digest);
    } finally {
      await reg.stop();
    }
  });

  it('basic: 401 with a Basic challenge, 200 with the credentials', async () => {
    const reg = await startRegistry({ auth: 'basic' });
    try {
      const anon = await fetch(`${reg.url}/v2/`);
      expect(anon.status).toBe(401);
      expect(anon.headers.get('www-authenticate')).toMatch(/^Basic realm="flux-test"/);
      const wrong = await fetch(`${reg.url}/v2/`, { headers: { authorization: basic(reg.username!, 'wrong') } });
      expect(wrong.status).toBe(401);
      await pushFixtures(reg, ['busybox']);
      const info = await fixtureInfo('busybox');
      const r = await fetch(`${reg.url}/v2/busybox/manifests/latest`, {
        headers: { accept: MANIFEST_ACCEPT, authorization: basic(reg.username!, reg.password!) },
      });
      expect(r.status).toBe(200);
      expect(r.headers.get('docker-content-digest')).toBe(info.digest);
    } finally {
      await reg.stop();
    }
  });

  it('token: challenge → token (with credentials) → retry, and the issuer records the flow', async () => {
    const reg = await startRegistry({ auth: 'token' });
    try {
      const anon = await fetch(`${reg.url}/v2/busybox/manifests/latest`, { headers: { accept: MANIFEST_ACCEPT } });
      expect(anon.status).toBe(401);
      const challenge = anon.headers.get('www-authenticate') ?? '';
      expect(challenge).toContain(`Bearer realm="${reg.tokenRealm}"`);
      expect(challenge).toContain(`service="${reg.service}"`);
      expect(challenge).toContain('scope="repository:busybox:pull"');

      // Without credentials and without anonymous access the issuer refuses.
      const scope = 'repository:busybox:pull';
      const denied = await fetch(`${reg.tokenRealm}?service=${reg.service}&scope=${scope}`);
      expect(denied.status).toBe(401);

      await pushFixtures(reg, ['busybox']);
      const t = await fetch(`${reg.tokenRealm}?service=${reg.service}&scope=${scope}`, { headers: { authorization: basic(reg.username!, reg.password!) } });
      expect(t.status).toBe(200);
      const body = (await t.json()) as { token: string; access_token: string; expires_in: number };
      expect(body.token).toBe(body.access_token);
      expect(body.expires_in).toBeGreaterThan(0);
      const r = await fetch(`${reg.url}/v2/busybox/manifests/latest`, { headers: { accept: MANIFEST_ACCEPT, authorization: `Bearer ${body.token}` } });
      expect(r.status).toBe(200);
      expect(r.headers.get('docker-content-digest')).toBe((await fixtureInfo('busybox')).digest);

      // skopeo's push went through the issuer with the credentials and asked for push.
      const pushes = reg.tokenRequests.filter((q) => q.user === reg.username && q.scopes.some((s) => s.includes('push')));
      expect(pushes.length).toBeGreaterThan(0);
      expect(reg.tokenRequests.some((q) => q.status === 401 && q.user === null)).toBe(true);
    } finally {
      await reg.stop();
    }
  });

  it('token with anonymous pull: pull-only tokens without credentials, push refused', async () => {
    const reg = await startRegistry({ auth: 'token', anonymous: true });
    try {
      await pushFixtures(reg, ['busybox']);
      const t = await fetch(`${reg.tokenRealm}?service=${reg.service}&scope=repository:busybox:pull,push`);
      expect(t.status).toBe(200);
      const { token } = (await t.json()) as { token: string };
      const last = reg.tokenRequests.at(-1)!;
      expect(last.user).toBeNull();
      expect(last.granted).toEqual([{ type: 'repository', name: 'busybox', actions: ['pull'] }]);
      const r = await fetch(`${reg.url}/v2/busybox/manifests/latest`, { headers: { accept: MANIFEST_ACCEPT, authorization: `Bearer ${token}` } });
      expect(r.status).toBe(200);
      const up = await fetch(`${reg.url}/v2/busybox/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      expect(up.status).toBe(401);
    } finally {
      await reg.stop();
    }
  });

  it('redirecting registry: blob GET → 307 to another loopback host that records headers', async () => {
    const reg = await startRedirectingRegistry({ auth: 'basic' });
    try {
      await pushFixtures(reg, ['busybox']);
      const info = await fixtureInfo('busybox');
      const layer = info.layers![0]!;
      const auth = basic(reg.username!, reg.password!);
      const anon = await fetch(`${reg.url}/v2/busybox/blobs/${layer.digest}`, { redirect: 'manual' });
      expect(anon.status).toBe(401);
      const r = await fetch(`${reg.url}/v2/busybox/blobs/${layer.digest}`, { redirect: 'manual', headers: { authorization: auth } });
      expect(r.status).toBe(307);
      const location = r.headers.get('location')!;
      expect(new URL(location).hostname).toBe('127.0.0.2');
      expect(location.startsWith(reg.blobServer!.url)).toBe(true);
      // fetch drops Authorization on a cross-origin redirect, as a careful client must.
      const followed = await fetch(`${reg.url}/v2/busybox/blobs/${layer.digest}`, { headers: { authorization: auth } });
      expect(followed.status).toBe(200);
      expect(sha(Buffer.from(await followed.arrayBuffer()))).toBe(layer.digest);
      expect(reg.blobServer!.requests.length).toBe(1);
      expect(reg.blobServer!.requests[0]!.headers.authorization).toBeUndefined();
      // Range works on the storage side, for resume tests.
      const part = await fetch(location, { headers: { range: 'bytes=10-19' } });
      expect(part.status).toBe(206);
      expect((await part.arrayBuffer()).byteLength).toBe(10);
    } finally {
      await reg.stop();
    }
  });

  it('intercept: a test can answer some requests itself and pass the rest on', async () => {
    const reg = await startRegistry({
      intercept: (req, res) => {
        if (!req.url?.includes('/manifests/broken')) return false;
        res.writeHead(429, { 'retry-after': '1' }).end();
        return true;
      },
    });
    try {
      await pushFixtures(reg, ['busybox']);
      expect((await fetch(`${reg.url}/v2/busybox/manifests/broken`)).status).toBe(429);
      expect((await fetch(`${reg.url}/v2/busybox/manifests/latest`, { headers: { accept: MANIFEST_ACCEPT } })).status).toBe(200);
      expect(reg.proxyRequests.map((q) => q.url)).toContain('/v2/busybox/manifests/broken');
    } finally {
      await reg.stop();
    }
  });

  it('zstd and multi-arch fixtures arrive with their digests and compression intact', async () => {
    const reg = await startRegistry();
    try {
      await pushFixtures(reg, ['busybox-zstd', 'multiarch']);
      const zinfo = await fixtureInfo('busybox-zstd');
      const m = await fetch(`${reg.url}/v2/busybox-zstd/manifests/latest`, { headers: { accept: MANIFEST_ACCEPT } });
      expect(m.headers.get('docker-content-digest')).toBe(zinfo.digest);
      const manifest = (await m.json()) as { layers: Array<{ mediaType: string; digest: string }> };
      expect(manifest.layers[0]!.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+zstd');
      const b = Buffer.from(await (await fetch(`${reg.url}/v2/busybox-zstd/blobs/${manifest.layers[0]!.digest}`)).arrayBuffer());
      expect(b.subarray(0, 4).toString('hex')).toBe('28b52ffd');

      const minfo = await fixtureInfo('multiarch');
      const idx = await fetch(`${reg.url}/v2/multiarch/manifests/latest`, { headers: { accept: MANIFEST_ACCEPT } });
      expect(idx.headers.get('content-type')).toBe('application/vnd.oci.image.index.v1+json');
      expect(idx.headers.get('docker-content-digest')).toBe(minfo.digest);
      const arm = minfo.children!['linux/arm64']!;
      expect((await fetch(`${reg.url}/v2/multiarch/manifests/${arm.digest}`, { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT } })).status).toBe(200);
    } finally {
      await reg.stop();
    }
  });
});

describe('fixtures', () => {
  let out: string;
  beforeAll(async () => {
    requireTool('busybox-static', () => existsSync('/bin/busybox'), '/bin/busybox builds the fixtures');
    out = await buildFixtures();
  });

  it('are reproducible: a second build elsewhere gives the same digests', async () => {
    const other = await mkdtemp(join(tmpdir(), 'flux-fixtures-'));
    try {
      const again = (await build(undefined, { outDir: other, force: true })) as Record<string, FixtureSummary>;
      for (const name of ['busybox', 'multilayer', 'busybox-zstd', 'multiarch', 'distro-alt'] as const) {
        const first = await fixtureInfo(name);
        expect(again[name]!.digest, name).toBe(first.digest);
        expect(await readFile(join(other, name, 'index.json'), 'utf8')).toBe(await readFile(join(out, name, 'index.json'), 'utf8'));
      }
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('busybox is a runnable rootfs: busybox binary, applet links, passwd, tmp 1777', async () => {
    const info = await fixtureInfo('busybox');
    const entries = await tarEntries(await blob(info.dir, info.layers![0]!.digest));
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(byName.get('bin/busybox')?.mode).toBe(0o755);
    expect(byName.get('bin/sh')).toMatchObject({ type: 'symlink', linkname: '/bin/busybox' });
    expect(byName.get('tmp')).toMatchObject({ type: 'directory', mode: 0o1777 });
    expect(byName.get('etc/passwd')?.body).toContain('root:x:0:0:');
    const config = JSON.parse((await blob(info.dir, info.config!)).toString()) as { config: { Cmd: string[] }; rootfs: { diff_ids: string[] } };
    expect(config.config.Cmd).toEqual(['sh']);
    const raw = gunzipSync(await blob(info.dir, info.layers![0]!.digest));
    expect(config.rootfs.diff_ids[0]).toBe(sha(raw));
  });

  it('multilayer has the whiteout, the opaque dir refilled, links, setuid, owners and long paths', async () => {
    const info = await fixtureInfo('multilayer');
    expect(info.layers).toHaveLength(3);
    const [l1, l2, l3] = await Promise.all(info.layers!.map(async (l) => await tarEntries(await blob(info.dir, l.digest))));
    expect(l1!.some((e) => e.name === 'bin/busybox')).toBe(true);
    const two = new Map(l2!.map((e) => [e.name, e]));
    expect(two.get('data/gone')?.type).toBe('file');
    expect(two.get('opq/old1')?.type).toBe('file');
    expect(two.get('links/hard')).toMatchObject({ type: 'link', linkname: 'links/target' });
    expect(two.get('links/sym')).toMatchObject({ type: 'symlink', linkname: 'target' });
    expect(two.get('perm/setuid')?.mode).toBe(0o4755);
    expect(two.get('owned/by1000')).toMatchObject({ uid: 1000, gid: 1000 });
    expect(two.get('owned/by65534')).toMatchObject({ uid: 65534, gid: 65534 });
    const long = [...two.keys()].filter((n) => n.length > 100);
    expect(long.length).toBeGreaterThanOrEqual(2);
    expect(long.some((n) => n.split('/').at(-1)!.length > 100)).toBe(true);
    const three = l3!.map((e) => e.name);
    expect(three).toContain('data/.wh.gone');
    expect(three).toContain('opq/.wh..wh..opq');
    expect(three).toContain('opq/new1');
    // The marker follows the refill in the tar: unpackers must not depend on the order.
    expect(three.indexOf('opq/.wh..wh..opq')).toBeGreaterThan(three.indexOf('opq/new1'));
    const cfg = JSON.parse((await blob(info.dir, info.config!)).toString()) as { rootfs: { diff_ids: string[] } };
    expect(cfg.rootfs.diff_ids).toHaveLength(3);
  });

  it('multiarch is an index with linux/amd64 and linux/arm64 entries', async () => {
    const info = await fixtureInfo('multiarch');
    expect(info.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    const idx = JSON.parse((await blob(info.dir, info.digest)).toString()) as { manifests: Array<{ platform: { architecture: string; os: string } }> };
    expect(idx.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`)).toEqual(['linux/amd64', 'linux/arm64']);
    const arm = info.children!['linux/arm64']!;
    const cfg = JSON.parse((await blob(info.dir, arm.config)).toString()) as { architecture: string };
    expect(cfg.architecture).toBe('arm64');
    const files = await tarEntries(await blob(info.dir, arm.layers[0]!.digest));
    expect(files.find((e) => e.name === 'etc/arch')?.body).toBe('arm64\n');
  });

  it('distro-alt sets User, WorkingDir and Env and ships the app user', async () => {
    const info = await fixtureInfo('distro-alt');
    const cfg = JSON.parse((await blob(info.dir, info.config!)).toString()) as { config: { User: string; WorkingDir: string; Env: string[] } };
    expect(cfg.config).toMatchObject({ User: 'app', WorkingDir: '/srv/app' });
    expect(cfg.config.Env).toContain('APP_MODE=test');
    const files = await tarEntries(await blob(info.dir, info.layers![1]!.digest));
    expect(files.find((e) => e.name === 'etc/passwd')?.body).toContain('app:x:1000:1000:');
    expect(files.find((e) => e.name === 'etc/os-release')?.body).toContain('ID=flux-alt');
  });
});

describe('debian fixture', () => {
  it('is a debootstrap minbase bookworm rootfs in one gzip layer, without apt downloads', { timeout: 20 * 60_000 }, async () => {
    requireTool('debootstrap');
    await buildFixtures(['debian']);
    const info = await fixtureInfo('debian');
    expect(info.layers).toHaveLength(1);
    expect(info.layers![0]!.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    const entries = await tarEntries(await blob(info.dir, info.layers![0]!.digest));
    const names = new Set(entries.map((e) => e.name));
    expect(entries.find((e) => e.name === 'etc/debian_version')?.body).toMatch(/^12\./);
    expect(entries.find((e) => e.name === 'bin')).toMatchObject({ type: 'symlink', linkname: 'usr/bin' });
    expect(names.has('usr/bin/bash')).toBe(true);
    expect([...names].some((n) => n.startsWith('var/cache/apt/archives/') && n.endsWith('.deb'))).toBe(false);
    expect([...names].some((n) => n.startsWith('dev/'))).toBe(false);
  });
});
