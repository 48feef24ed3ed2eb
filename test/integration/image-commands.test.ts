/** flux tag, save, load and push through the binary as the unprivileged user, against a local registry. */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureInfo, pushFixtures, userFixtureDir, type FixtureSummary } from '../helpers/fixtures.js';
import { startRegistry, type RecordedRequest, type Registry } from '../helpers/registry.js';
import { requireTool } from '../helpers/require.js';
import { appDir, fluxBin, isRoot, removeStore, runAs, runFlux, tempStore, testUser } from '../helpers/user.js';

requireTool('docker-registry');
requireTool('skopeo');

let reg: Registry;
let busybox: FixtureSummary;
let work: string;
const stores: string[] = [];

async function store(): Promise<string> {
  const s = await tempStore();
  stores.push(s);
  return s;
}

interface Image {
  reference: string;
  id: string;
  digest: string;
}

async function images(s: string): Promise<Image[]> {
  const r = await runFlux(['images', '--json'], { store: s });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Image[];
}

/** The requests that carried a blob's bytes, or opened an upload. */
function uploads(log: RecordedRequest[]): RecordedRequest[] {
  return log.filter((r) => /\/blobs\/uploads\//.test(r.url) && (r.method === 'POST' || r.method === 'PUT' || r.method === 'PATCH'));
}

beforeAll(async () => {
  busybox = await fixtureInfo('busybox');
  // A proxy in front that passes everything on records each request flux makes.
  reg = await startRegistry({ intercept: () => false });
  await pushFixtures(reg, ['busybox']);
  work = await mkdtemp('/tmp/flux-imagecmds-');
  await chmod(work, 0o777);
}, 180_000);

afterAll(async () => {
  await reg?.stop();
  for (const s of stores) await removeStore(s);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('flux tag', () => {
  it('gives a stored image a second name that runs and shares its blobs', async () => {
    const s = await store();
    expect((await runFlux(['pull', `${reg.host}/busybox`], { store: s })).code).toBe(0);
    const tag = await runFlux(['tag', `${reg.host}/busybox`, 'example.com/mine/box:v1'], { store: s });
    expect(tag.code, tag.stderr).toBe(0);
    const list = await images(s);
    const tagged = list.find((i) => i.reference === 'example.com/mine/box:v1');
    expect(tagged?.digest).toBe(busybox.digest);
    const run = await runFlux(['run', '--network', 'none', 'example.com/mine/box:v1', '--', 'echo', 'tagged'], { store: s });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('tagged\n');
    const bad = await runFlux(['tag', `${reg.host}/busybox`, 'oci:/tmp/x'], { store: s });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
    expect(bad.stderr).toContain('NAME[:TAG]');
    // Removing one name keeps what the other still uses.
    expect((await runFlux(['rmi', 'example.com/mine/box:v1'], { store: s })).code).toBe(0);
    const still = await runFlux(['run', '--network', 'none', '--pull', 'never', `${reg.host}/busybox`, '--', 'echo', 'kept'], { store: s });
    expect(still.stdout, still.stderr).toBe('kept\n');
  });
});

describe('flux save and flux load', () => {
  it('round-trips a docker archive into a fresh store with the same digests, readable by skopeo', async () => {
    const s = await store();
    expect((await runFlux(['pull', `${reg.host}/busybox`], { store: s })).code).toBe(0);
    const file = join(work, 'busybox-docker.tar');
    const save = await runFlux(['save', '-o', file, `${reg.host}/busybox`], { store: s });
    expect(save.code, save.stderr).toBe(0);

    const fresh = await store();
    const load = await runFlux(['load', '-i', file], { store: fresh });
    expect(load.code, load.stderr).toBe(0);
    expect(load.stdout).toBe(`Loaded image: ${reg.host}/busybox:latest\n`);
    const [img] = await images(fresh);
    expect(img!.digest).toBe(busybox.digest);
    expect(img!.id).toBe(busybox.config);
    const run = await runFlux(['run', '--network', 'none', '--pull', 'never', `${reg.host}/busybox`, '--', 'echo', 'loaded'], { store: fresh });
    expect(run.stdout, run.stderr).toBe('loaded\n');

    // The docker archive as other tools read it: its manifest.json, not flux's index.json.
    const inspected = JSON.parse(execFileSync('skopeo', ['inspect', `docker-archive:${file}`], { encoding: 'utf8' })) as { Digest: string; Layers: string[]; RepoTags?: string[] };
    expect(inspected.Layers).toEqual(busybox.diffIds);
    const ociDir = join(work, 'from-docker-archive');
    execFileSync('skopeo', ['--insecure-policy', 'copy', `docker-archive:${file}`, `oci:${ociDir}:copied`], { stdio: 'pipe' });
    const config = JSON.parse(execFileSync('skopeo', ['inspect', '--config', `oci:${ociDir}:copied`], { encoding: 'utf8' })) as { rootfs: { diff_ids: string[] } };
    expect(config.rootfs.diff_ids).toEqual(busybox.diffIds);
  });

  it('round-trips an OCI archive, and loads from standard input', async () => {
    const s = await store();
    expect((await runFlux(['pull', `${reg.host}/busybox`], { store: s })).code).toBe(0);
    expect((await runFlux(['tag', `${reg.host}/busybox`, 'example.com/second:2'], { store: s })).code).toBe(0);
    const file = join(work, 'busybox-oci.tar');
    const save = await runFlux(['save', '--format', 'oci-archive', '-o', file, `${reg.host}/busybox`, 'example.com/second:2'], { store: s });
    expect(save.code, save.stderr).toBe(0);
    const inspected = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${file}:latest`], { encoding: 'utf8' })) as { Digest: string };
    expect(inspected.Digest).toBe(busybox.digest);

    const fresh = await store();
    const load = await runFlux(['load', '-i', file], { store: fresh });
    expect(load.code, load.stderr).toBe(0);
    const byName = (list: Image[]) => list.map((i) => [i.reference, i.digest]).sort((a, b) => a[0]!.localeCompare(b[0]!));
    const want = [[`${reg.host}/busybox:latest`, busybox.digest], ['example.com/second:2', busybox.digest]].sort((a, b) => a[0]!.localeCompare(b[0]!));
    expect(byName(await images(fresh))).toEqual(want);

    // `flux load < FILE`, as `docker load` is used.
    const fromStdin = await store();
    const piped = await runAs(await testUser(), 'sh', ['-c', 'exec "$0" "$1" load < "$2"', process.execPath, await fluxBin(), file], { store: fromStdin });
    expect(piped.code, piped.stderr).toBe(0);
    expect(byName(await images(fromStdin))).toEqual(want);
  });

  it('writes the archive to standard output, and never to a terminal', async () => {
    const s = await store();
    expect((await runFlux(['pull', `${reg.host}/busybox`], { store: s })).code).toBe(0);
    const file = join(work, 'stdout.tar');
    const piped = await runAs(await testUser(), 'sh', ['-c', 'exec "$0" "$1" save "$2" > "$3"', process.execPath, await fluxBin(), `${reg.host}/busybox`, file], { store: s });
    expect(piped.code, piped.stderr).toBe(0);
    const inspected = JSON.parse(execFileSync('skopeo', ['inspect', `docker-archive:${file}`], { encoding: 'utf8' })) as { Layers: string[] };
    expect(inspected.Layers).toEqual(busybox.diffIds);
    // A reader that stops early (`| head`) ends the save silently, as SIGPIPE ends other tools.
    const head = await runAs(await testUser(), 'bash', ['-c', '"$0" "$1" save "$2" | head -c 100 > /dev/null; exit "${PIPESTATUS[0]}"', process.execPath, await fluxBin(), `${reg.host}/busybox`], { store: s });
    expect(head.stderr).toBe('');
    expect(head.code).toBe(141);
    const tty = await runFlux(['save', `${reg.host}/busybox`], { store: s, tty: true });
    expect(tty.code).not.toBe(0);
    expect(tty.stdout).toContain('-o FILE');
  });

  it('removes its temporary file when SIGINT, SIGTERM or SIGHUP stops it, and ends by that signal', async () => {
    const u = await testUser();
    const app = await appDir();
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const s = await store();
      expect((await runFlux(['pull', `${reg.host}/busybox`], { store: s })).code).toBe(0);
      // A layer blob that is a FIFO nobody writes: the save waits on it with its temporary file open.
      const layer = join(s, 'blobs', 'sha256', busybox.layers![0]!.digest.slice(7));
      await rm(layer);
      execFileSync('mkfifo', ['-m', '0644', layer]);
      if (isRoot) await chown(layer, u.uid, u.gid);
      const dir = await mkdtemp(join(work, 'interrupted-'));
      await chmod(dir, 0o777);
      // Signalled directly, with nothing in between that could pass it on or not.
      const env = { HOME: u.home, PATH: '/usr/local/bin:/usr/bin:/bin', USER: u.name, FLUX_STORE: s };
      const argv = [join(app, 'bin/flux.js'), 'save', '-o', join(dir, 'out.tar'), `${reg.host}/busybox`];
      const child = isRoot
        ? spawn('setpriv', [`--reuid=${u.uid}`, `--regid=${u.gid}`, '--init-groups', '--', process.execPath, ...argv], { env, cwd: app, stdio: 'ignore' })
        : spawn(process.execPath, argv, { env, cwd: app, stdio: 'ignore' });
      const ended = new Promise<NodeJS.Signals | null>((resolve) => child.once('close', (_code, signal) => resolve(signal)));
      const deadline = Date.now() + 30_000;
      while (!readdirSync(dir).some((f) => f.endsWith('.flux-save.tmp')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(readdirSync(dir).filter((f) => f.endsWith('.flux-save.tmp'))).toHaveLength(1);
      child.kill(sig);
      expect(await ended).toBe(sig);
      expect(readdirSync(dir)).toEqual([]);
    }
  });

  it('saves an image known only by its digest without a name, as docker save does', async () => {
    const s = await store();
    expect((await runFlux(['pull', `${reg.host}/busybox:v1@${busybox.digest}`], { store: s })).code).toBe(0);
    const file = join(work, 'by-digest.tar');
    const save = await runFlux(['save', '-o', file, `${reg.host}/busybox@${busybox.digest}`], { store: s });
    expect(save.code, save.stderr).toBe(0);
    // A digest is no tag: neither RepoTags nor ref.name may hold one.
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', file, 'manifest.json'], { encoding: 'utf8' })) as Array<{ RepoTags: string[] }>;
    expect(manifest.map((m) => m.RepoTags)).toEqual([[]]);
    const index = JSON.parse(execFileSync('tar', ['-xOf', file, 'index.json'], { encoding: 'utf8' })) as { manifests: Array<{ digest: string; annotations?: unknown }> };
    expect(index.manifests).toEqual([expect.objectContaining({ digest: busybox.digest })]);
    expect(index.manifests[0]!.annotations).toBeUndefined();
  });

  it('loads a classic docker save archive (uncompressed layers, manifest.json only)', async () => {
    const dir = join(work, 'classic');
    execFileSync('skopeo', ['--insecure-policy', 'copy', '--src-tls-verify=false', `docker://${reg.directHost}/busybox:latest`, `docker-archive:${dir}.tar:example.com/classic:1`], { stdio: 'pipe' });
    if (isRoot) await chown(`${dir}.tar`, (await testUser()).uid, -1);
    const fresh = await store();
    const load = await runFlux(['load', '-i', `${dir}.tar`], { store: fresh });
    expect(load.code, load.stderr).toBe(0);
    const [img] = await images(fresh);
    expect(img!.reference).toBe('example.com/classic:1');
    expect(img!.id).toBe(busybox.config);
  });
});

describe('oci-archive: of an archive flux saved', () => {
  it('picks each image by its full name, and refuses a tag several images share', async () => {
    const alt = await fixtureInfo('distro-alt');
    const s = await store();
    expect((await runFlux(['pull', `${reg.host}/busybox`], { store: s })).code).toBe(0);
    expect((await runFlux(['pull', `oci:${await userFixtureDir('distro-alt')}:latest`], { store: s })).code).toBe(0);
    expect((await runFlux(['tag', `oci:${await userFixtureDir('distro-alt')}:latest`, 'example.com/alt'], { store: s })).code).toBe(0);
    const file = join(work, 'two-latest.tar');
    const save = await runFlux(['save', '--format', 'oci-archive', '-o', file, `${reg.host}/busybox`, 'example.com/alt'], { store: s });
    expect(save.code, save.stderr).toBe(0);

    // Both are tagged latest: the full name, whole or as docker normalises it, tells them apart.
    const fresh = await store();
    for (const [name, digest] of [[`${reg.host}/busybox:latest`, busybox.digest], ['example.com/alt', alt.digest], ['example.com/alt:latest', alt.digest]] as const) {
      const pull = await runFlux(['pull', '-q', `oci-archive:${file}:${name}`], { store: fresh });
      expect(pull.code, pull.stderr).toBe(0);
      expect(pull.stdout.trim()).toBe(digest);
    }
    for (const typed of [`oci-archive:${file}:latest`, `oci-archive:${file}`]) {
      const r = await runFlux(['pull', typed], { store: fresh });
      expect(r.code, typed).toBe(125);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(`${reg.host}/busybox:latest, example.com/alt:latest`);
    }
  });
});

describe('flux load names', () => {
  it('records an image whose archive names only a tag as the oci-archive: source would be', async () => {
    const file = join(work, 'bare-tag.tar');
    execFileSync('skopeo', ['--insecure-policy', 'copy', '--src-tls-verify=false', `docker://${reg.directHost}/busybox:latest`, `oci-archive:${file}:v7`], { stdio: 'pipe' });
    if (isRoot) await chown(file, (await testUser()).uid, -1);
    const fresh = await store();
    const load = await runFlux(['load', '-i', file], { store: fresh });
    expect(load.code, load.stderr).toBe(0);
    // Not docker.io/library/v7: a bare tag is no image name.
    expect(load.stdout).toBe(`Loaded image: oci-archive:${file}:v7\n`);
    const run = await runFlux(['run', '--network', 'none', '--pull', 'never', `oci-archive:${file}:v7`, '--', 'echo', 'bare'], { store: fresh });
    expect(run.stdout, run.stderr).toBe('bare\n');
  });
});

describe('flux push', () => {
  it('pushes to the local registry, a pull back gives the same digest, and a second push sends no blob', async () => {
    const s = await store();
    expect((await runFlux(['pull', `${reg.host}/busybox`], { store: s })).code).toBe(0);
    const before = reg.proxyRequests.length;
    const push = await runFlux(['push', `${reg.host}/busybox`, `${reg.host}/pushed/box:1`], { store: s });
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout.trim()).toBe(busybox.digest);
    const first = reg.proxyRequests.slice(before);
    // Same registry: the blobs are mounted from busybox, not sent.
    expect(first.filter((r) => r.method === 'POST' && r.url.includes('mount=')).length).toBe(busybox.layers!.length + 1);
    expect(first.filter((r) => r.method === 'PUT' && r.url.includes('/blobs/'))).toEqual([]);

    const fresh = await store();
    const pull = await runFlux(['pull', `${reg.host}/pushed/box:1`], { store: fresh });
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.stdout.trim()).toBe(busybox.digest);

    const mid = reg.proxyRequests.length;
    const again = await runFlux(['push', `${reg.host}/busybox`, `${reg.host}/pushed/box:1`], { store: s });
    expect(again.code, again.stderr).toBe(0);
    const second = reg.proxyRequests.slice(mid);
    expect(uploads(second)).toEqual([]);
    expect(second.filter((r) => r.method === 'HEAD').length).toBe(busybox.layers!.length + 1);
  });

  it('pushes to a registry that wants a login only after `flux login`, asking for push access', async () => {
    const s = await store();
    expect((await runFlux(['pull', `${reg.host}/busybox`], { store: s })).code).toBe(0);
    const secured = await startRegistry({ auth: 'token', anonymous: true });
    try {
      const home = await store();
      const denied = await runFlux(['push', `${reg.host}/busybox`, `${secured.host}/team/box:1`], { store: s, env: { HOME: home } });
      expect(denied.code).not.toBe(0);
      expect(denied.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
      expect(denied.stderr).toContain(`flux login ${secured.host}`);
      const login = await runFlux(['login', '-u', secured.username!, '--password-stdin', secured.host], { env: { HOME: home }, input: secured.password! });
      expect(login.code, login.stderr).toBe(0);
      const push = await runFlux(['push', `${reg.host}/busybox`, `${secured.host}/team/box:1`], { store: s, env: { HOME: home } });
      expect(push.code, push.stderr).toBe(0);
      expect(push.stdout.trim()).toBe(busybox.digest);
      expect(secured.tokenRequests.some((t) => t.scopes.includes('repository:team/box:pull,push'))).toBe(true);
      const fresh = await store();
      const pull = await runFlux(['pull', `${secured.host}/team/box:1`], { store: fresh, env: { HOME: home } });
      expect(pull.stdout.trim(), pull.stderr).toBe(busybox.digest);
    } finally {
      await secured.stop();
    }
  });

  it('sends the blobs another registry lacks (nothing to mount from there), then none', async () => {
    const s = await store();
    expect((await runFlux(['pull', `${reg.host}/busybox`], { store: s })).code).toBe(0);
    const other = await startRegistry({ intercept: () => false });
    try {
      const push = await runFlux(['push', `${reg.host}/busybox`, `${other.host}/copy:1`], { store: s });
      expect(push.code, push.stderr).toBe(0);
      const puts = other.proxyRequests.filter((r) => r.method === 'PUT' && r.url.includes('/blobs/uploads/'));
      expect(puts.length).toBe(busybox.layers!.length + 1);
      const fresh = await store();
      const pull = await runFlux(['pull', `${other.host}/copy:1`], { store: fresh });
      expect(pull.stdout.trim()).toBe(busybox.digest);
      const n = other.proxyRequests.length;
      expect((await runFlux(['push', `${reg.host}/busybox`, `${other.host}/copy:1`], { store: s })).code).toBe(0);
      expect(uploads(other.proxyRequests.slice(n))).toEqual([]);
    } finally {
      await other.stop();
    }
  });
});

describe('errors a user can cause, each in one sentence with its fix', () => {
  it('names the bad path, format or destination', async () => {
    const s = await store();
    expect((await runFlux(['pull', `${reg.host}/busybox`], { store: s })).code).toBe(0);
    // A directory no one but root may write into.
    const rootOnly = join(work, 'read-only-dir');
    await mkdir(rootOnly);
    await chmod(rootOnly, 0o555);
    const cases: Array<[string[], string]> = [
      [['save', '-o', join(work, 'no-such-dir', 'x.tar'), `${reg.host}/busybox`], `cannot write the archive ${join(work, 'no-such-dir', 'x.tar')}: its directory does not exist.`],
      [['save', '-o', join(rootOnly, 'x.tar'), `${reg.host}/busybox`], `cannot write the archive ${join(rootOnly, 'x.tar')}: you may not write into its directory.`],
      [['save', '--format', 'zip', '-o', join(work, 'x.tar'), `${reg.host}/busybox`], '"zip" is not an archive format'],
      [['load', '-i', '/nonexistent.tar'], 'there is no archive file /nonexistent.tar.'],
      [['load', '-i', '/etc/passwd'], 'is not a tar archive'],
      [['push', `${reg.host}/busybox`, `docker-archive:${join(work, 'y.tar')}`], 'is not a registry to push to'],
      [['push', 'no-such-image', `${reg.host}/x`], 'there is no image "no-such-image"'],
    ];
    for (const [args, said] of cases) {
      const r = await runFlux(args, { store: s });
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toContain(said);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    }
  });
});
