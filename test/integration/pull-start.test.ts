/**
 * The start of a cold pull: the unpacker (a Node process in the user namespace) is started as
 * soon as the store says the image is not there, before the HTTP client is loaded and before the
 * first request, so that its start-up overlaps the pull's own. FLUX_TIMING=1 shows the order. A
 * pull of an image already in the store starts none, and a pull that fails before its first
 * blob stops the one it started and leaves nothing behind in the store. As real root, layers are
 * unpacked in flux's own process, whose unpacking code is loaded only after the first request.
 */
import { existsSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureInfo, pushFixtures } from '../helpers/fixtures.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { requireTool } from '../helpers/require.js';
import { REPO_ROOT, isRoot, removeStore, runFlux, tempStore } from '../helpers/user.js';

requireTool('docker-registry');
requireTool('skopeo');

let reg: Registry;
const stores: string[] = [];

/** The labels of FLUX_TIMING's laps, in the order they were written. */
function laps(stderr: string): string[] {
  return stderr.split('\n').flatMap((l) => {
    const m = /^flux: timing: (.+) [\d.]+ ms$/.exec(l);
    return m ? [m[1]!] : [];
  });
}

beforeAll(async () => {
  // The bundle under test is the one made from the current tsc output (bin/flux.js ignores an older one).
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/bundle.mjs')], { cwd: REPO_ROOT, stdio: 'ignore' });
  reg = await startRegistry();
  await pushFixtures(reg, ['busybox', 'busybox-zstd']);
}, 120_000);

afterAll(async () => {
  await reg?.stop();
  for (const s of stores) await removeStore(s);
});

describe('a cold pull', () => {
  it('unpacks a zstd layer in the unpacker, which runs from its code cache (no dynamic import there)', async () => {
    const store = await tempStore();
    stores.push(store);
    const r = await runFlux(['pull', '-q', `${reg.host}/busybox-zstd:latest`], { store });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe((await fixtureInfo('busybox-zstd')).digest);
  });

  it('starts the unpacker before it loads the HTTP client and before its first request', async () => {
    const store = await tempStore();
    stores.push(store);
    const r = await runFlux(['pull', '-q', `${reg.host}/busybox:latest`], { store, env: { FLUX_TIMING: '1' } });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe((await fixtureInfo('busybox')).digest);
    const order = laps(r.stderr);
    const at = (label: string | RegExp): number => order.findIndex((l) => (typeof label === 'string' ? l === label : label.test(l)));
    expect(at('pull: store read')).toBeGreaterThanOrEqual(0);
    expect(at('pull: code loaded')).toBeGreaterThan(at('pull: store read'));
    expect(at(/^pull: asking http:\/\/.+\/v2\/busybox\/manifests\/latest$/)).toBeGreaterThan(at('pull: code loaded'));
    // The gc lock (koffi loaded for flock, a blocked thread for some ms) is taken once the
    // manifest request is out, so that the registry answers meanwhile.
    expect(at('pull: gc lock held')).toBeGreaterThan(at(/^pull: asking /));
    expect(at('pull: unpacked')).toBeGreaterThan(at('pull: blobs stored'));
    // flux runs rootless here (as the test user under root): the unpacker is a process of its
    // own, and says so on flux's clock.
    expect(at('unpacker spawned')).toBeGreaterThan(at('pull: store read'));
    expect(at('unpacker spawned')).toBeLessThan(at('pull: code loaded'));
    expect(at('unpacker: started')).toBeGreaterThan(at('unpacker spawned'));
    expect(at('unpacker: unpack done')).toBeGreaterThan(at('unpacker: started'));
    expect(at('unpacker: unpack done')).toBeLessThan(at('pull: unpacked'));
  }, 60_000);

  it('as real root loads its unpacking code only after its first request is out', async () => {
    // The tests run as root (test/global-setup.ts); this case is about that very path.
    expect(isRoot, 'this test needs to run as root').toBe(true);
    const store = await tempStore({ name: 'root', uid: 0, gid: 0, home: '/root' });
    stores.push(store);
    const r = await runFlux(['pull', '-q', `${reg.host}/busybox:latest`], { store, asUser: false, env: { FLUX_TIMING: '1' } });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe((await fixtureInfo('busybox')).digest);
    const order = laps(r.stderr);
    const asking = order.findIndex((l) => /^pull: asking http:\/\/.+\/v2\/busybox\/manifests\/latest$/.test(l));
    expect(asking).toBeGreaterThanOrEqual(0);
    expect(order.indexOf('unpack code loaded in this process')).toBeGreaterThan(asking);
    expect(order.indexOf('pull: unpacked')).toBeGreaterThan(order.indexOf('unpack code loaded in this process'));
    expect(order).not.toContain('unpacker spawned');
  }, 60_000);

  it('of an image already in the store starts no unpacker', async () => {
    const store = await tempStore();
    stores.push(store);
    expect((await runFlux(['pull', '-q', `${reg.host}/busybox:latest`], { store })).code).toBe(0);
    const r = await runFlux(['pull', '-q', '--pull', 'missing', `${reg.host}/busybox:latest`], { store, env: { FLUX_TIMING: '1' } });
    expect(r.code).toBe(0);
    const order = laps(r.stderr);
    expect(order).toContain('pull: store read');
    expect(order.filter((l) => l.startsWith('unpacker'))).toEqual([]);
  }, 60_000);

  it('that fails before its first blob stops its unpacker and leaves nothing in the store', async () => {
    const store = await tempStore();
    stores.push(store);
    const r = await runFlux(['pull', '-q', `${reg.host}/no-such-image:latest`], { store, env: { FLUX_TIMING: '1' } });
    expect(r.timedOut).toBe(false);
    expect(r.code).not.toBe(0);
    const errors = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('flux: timing: '));
    expect(errors.join('\n')).toMatch(/no-such-image/);
    expect(laps(r.stderr)).toContain('unpacker spawned');
    const tmp = join(store, 'tmp');
    expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
    const layers = join(store, 'layers', 'sha256');
    expect(existsSync(layers) ? readdirSync(layers) : []).toEqual([]);
  }, 60_000);
});
