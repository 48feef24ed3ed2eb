/** --pull=missing/always/never and working without a registry, through the binary as the test user. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureInfo, pushFixtures, type FixtureSummary } from '../helpers/fixtures.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { requireTool } from '../helpers/require.js';
import { removeStore, runFlux, tempStore } from '../helpers/user.js';

requireTool('docker-registry');
requireTool('skopeo');

let reg: Registry;
let s: string;
let busybox: FixtureSummary;
let ref: string;

beforeAll(async () => {
  reg = await startRegistry({ intercept: () => false });
  await pushFixtures(reg, ['busybox']);
  busybox = await fixtureInfo('busybox');
  s = await tempStore();
  ref = `${reg.host}/busybox:latest`;
  const r = await runFlux(['pull', '-q', ref], { store: s });
  if (r.code !== 0) throw new Error(r.stderr);
});

afterAll(async () => {
  await reg?.stop().catch(() => undefined);
  if (s) await removeStore(s);
});

describe('offline use', () => {
  it('makes no request for a cached image named by digest, nor by tag with --pull=missing', async () => {
    const before = reg.proxyRequests.length;
    const byDigest = await runFlux(['pull', `${reg.host}/busybox@${busybox.digest}`], { store: s });
    expect(byDigest.code, byDigest.stderr).toBe(0);
    expect(byDigest.stdout.trim()).toBe(busybox.digest);
    expect(byDigest.stderr).toContain('fetched 0 bytes');
    const byTag = await runFlux(['pull', '--pull=missing', ref], { store: s });
    expect(byTag.code, byTag.stderr).toBe(0);
    expect(reg.proxyRequests.length).toBe(before);
  });

  it('asks the registry with --pull=always', async () => {
    const before = reg.proxyRequests.length;
    const r = await runFlux(['pull', '--pull=always', ref], { store: s });
    expect(r.code, r.stderr).toBe(0);
    expect(reg.proxyRequests.length).toBeGreaterThan(before);
    expect(r.stderr).toContain('fetched 0 bytes');
  });

  it('works with the registry gone: never and missing use the store, always falls back with a notice', async () => {
    await reg.stop();
    const never = await runFlux(['pull', '--pull=never', ref], { store: s });
    expect(never.code, never.stderr).toBe(0);
    expect(never.stdout.trim()).toBe(busybox.digest);
    const missing = await runFlux(['pull', '--pull=missing', ref], { store: s });
    expect(missing.code, missing.stderr).toBe(0);

    const always = await runFlux(['pull', '--pull=always', ref], { store: s });
    expect(always.code, always.stderr).toBe(0);
    expect(always.stdout.trim()).toBe(busybox.digest);
    const notices = always.stderr.split('\n').filter((l) => l.startsWith('flux: '));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/using the image .*busybox:latest from the store/);

    // Not cached and no registry: one sentence naming the cause.
    const other = await runFlux(['pull', `${reg.host}/other:latest`], { store: s });
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/^flux: .*(connect|reach|refused)/im);
    expect(other.stderr).not.toMatch(/\n\s+at /);
  });
});
