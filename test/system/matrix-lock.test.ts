/**
 * `flux matrix --lock`, as the unprivileged test user against a local registry: the first run
 * locks the digest a tag resolved to; after the tag moves, locked runs still run that digest,
 * from the store with no registry request, or pulled by digest into an empty store;
 * --update-lock follows the tag; a locked matrix runs with the registry gone; a broken lock is
 * refused with the line at fault.
 */
import { readFile, rm, writeFile, chown } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { fixtureInfo, pushFixtures } from '../helpers/fixtures.js';
import { isRoot, removeStore, runFlux, tempStore, testUser, userWorkDir } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

const ready = requireTool('docker-registry') && requireTool('skopeo') && requireTool('newuidmap');

const ID = ['sh', '-c', 'grep ^ID= /etc/os-release'];

describe.skipIf(!ready)('flux matrix --lock', () => {
  let reg: Registry;
  let store: string;
  let fresh: string;
  let work: string;
  let image: string;
  let busyboxDigest: string;
  let altDigest: string;

  beforeAll(async () => {
    reg = await startRegistry({ intercept: () => false });
    await pushFixtures(reg, ['busybox'], { repo: () => 'pinned' });
    busyboxDigest = (await fixtureInfo('busybox')).digest;
    altDigest = (await fixtureInfo('distro-alt')).digest;
    image = `${reg.host}/pinned:latest`;
    store = await tempStore();
    fresh = await tempStore();
    work = await userWorkDir('flux-matrix-lock-');
  }, 900_000);

  afterAll(async () => {
    await reg?.stop();
    if (store) await removeStore(store);
    if (fresh) await removeStore(fresh);
    if (work) await rm(work, { recursive: true, force: true });
  });

  const lockLines = async (path: string): Promise<string[]> => (await readFile(path, 'utf8')).split('\n').filter((l) => l !== '' && !l.startsWith('#'));

  it('locks, keeps running the locked digest after the tag moved, follows it on --update-lock, and runs offline', async () => {
    const lock = join(work, 'flux.lock');
    const matrix = (s: string, ...extra: string[]) => runFlux(['matrix', '--lock', lock, ...extra, '--network', 'none', '--output', 'prefix', image, '--', ...ID], { store: s });

    const first = await matrix(store);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`[${image}] ID=flux-busybox`);
    expect(first.stderr).toContain(`${lock} does not exist yet`);
    expect(await lockLines(lock)).toEqual([expect.stringMatching(new RegExp(`^${image.replace(/[.]/g, '\\.')} linux/\\S+ ${busyboxDigest}$`))]);
    const written = await readFile(lock, 'utf8');

    // The tag moves to other content.
    await pushFixtures(reg, ['distro-alt'], { repo: () => 'pinned' });

    const before = reg.proxyRequests.length;
    const locked = await matrix(store);
    expect(locked.code, locked.stderr).toBe(0);
    expect(locked.stdout).toContain(`[${image}] ID=flux-busybox`);
    expect(locked.stderr).toContain(`running 1 of 1 images at the digests locked in ${lock}`);
    expect(reg.proxyRequests.slice(before)).toEqual([]);
    expect(await readFile(lock, 'utf8')).toBe(written);

    // An empty store gets the locked digest from the registry, not what the tag is now.
    const pinned = await runFlux(['matrix', '--json', '--lock', lock, '--network', 'none', image, '--', 'true'], { store: fresh });
    expect(pinned.code, pinned.stderr).toBe(0);
    expect((JSON.parse(pinned.stdout) as { digest: string }[])[0]!.digest).toBe(busyboxDigest);
    expect(reg.proxyRequests.slice(before).some((r) => r.url.includes(`/manifests/${busyboxDigest}`))).toBe(true);
    expect(reg.proxyRequests.slice(before).some((r) => r.url.endsWith('/manifests/latest'))).toBe(false);

    const updated = await matrix(store, '--update-lock');
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stdout).toContain(`[${image}] ID=flux-alt`);
    expect(await lockLines(lock)).toEqual([expect.stringMatching(new RegExp(` ${altDigest}$`))]);

    await reg.stop();
    const offline = await matrix(store);
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stdout).toContain(`[${image}] ID=flux-alt`);
  }, 600_000);

  it('refuses a hand-broken lock with the line at fault, before anything runs', async () => {
    const lock = join(work, 'broken.lock');
    await writeFile(lock, `# mine\n${image} linux/amd64 sha256:0123\n`);
    if (isRoot) {
      const u = await testUser();
      await chown(lock, u.uid, u.gid);
    }
    const r = await runFlux(['matrix', '--lock', lock, image, '--', 'true'], { store });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(`flux: the lock file ${lock} is malformed at line 2 ("${image} linux/amd64 sha256:0123"): "sha256:0123" is not a sha256 digest.`);
    expect(r.stdout).toBe('');
  });
});
