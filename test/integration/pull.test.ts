/** `flux pull` through the binary, as the unprivileged test user, against the real registry. */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureInfo, pushFixtures, type FixtureSummary } from '../helpers/fixtures.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { requireTool } from '../helpers/require.js';
import { removeStore, runFlux, tempStore } from '../helpers/user.js';

requireTool('docker-registry');
requireTool('skopeo');

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
let reg: Registry;
const fx: Record<string, FixtureSummary> = {};
const stores: string[] = [];

async function store(): Promise<string> {
  const s = await tempStore();
  stores.push(s);
  return s;
}

/** Every file under blobs/ hashes to its own name: the store holds verified bytes only. */
function assertBlobsVerified(root: string): string[] {
  const dir = join(root, 'blobs', 'sha256');
  const names = existsSync(dir) ? readdirSync(dir) : [];
  for (const n of names) expect(sha(readFileSync(join(dir, n)))).toBe(`sha256:${n}`);
  return names.map((n) => `sha256:${n}`);
}

function noStack(stderr: string): void {
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(stderr).toMatch(/^flux: /m);
}

/** GETs of one blob that the registry proxy saw. */
function blobGets(digest: string): number {
  return reg.proxyRequests.filter((r) => r.method === 'GET' && r.url.includes(`/blobs/${digest}`)).length;
}

beforeAll(async () => {
  // A pass-through proxy in front of the registry records every request flux makes.
  reg = await startRegistry({ intercept: () => false });
  await pushFixtures(reg, ['busybox', 'multilayer', 'busybox-zstd', 'multiarch']);
  for (const n of ['busybox', 'multilayer', 'busybox-zstd', 'multiarch'] as const) fx[n] = await fixtureInfo(n);
});

afterAll(async () => {
  await reg?.stop();
  for (const s of stores) await removeStore(s);
});

describe('flux pull', () => {
  it('pulls busybox into a content-addressed store, then downloads nothing the second time', async () => {
    const s = await store();
    const ref = `${reg.host}/busybox:latest`;
    const first = await runFlux(['pull', ref], { store: s });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.trim().split('\n').at(-1)).toBe(fx.busybox!.digest);
    // Not a terminal: one line per finished blob, then the byte count.
    for (const l of fx.busybox!.layers!) expect(first.stderr).toContain(`${l.digest.slice(0, 19)}… `);
    expect(first.stderr).toMatch(/done/);
    const fetched = Number(/fetched (\d+) bytes/.exec(first.stderr)?.[1]);
    expect(fetched).toBeGreaterThanOrEqual(fx.busybox!.layers![0]!.size);

    const blobs = assertBlobsVerified(s);
    expect(blobs).toEqual(expect.arrayContaining([fx.busybox!.digest, fx.busybox!.config!, ...fx.busybox!.layers!.map((l) => l.digest)]));
    for (const d of fx.busybox!.diffIds!) expect(existsSync(join(s, 'layers', 'sha256', d.slice(7)))).toBe(true);
    expect(readdirSync(join(s, 'tmp')).filter((n) => n.endsWith('.partial'))).toEqual([]);

    const layerGets = blobGets(fx.busybox!.layers![0]!.digest);
    const second = await runFlux(['pull', ref], { store: s });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('fetched 0 bytes');
    expect(second.stdout.trim()).toBe(fx.busybox!.digest);
    expect(blobGets(fx.busybox!.layers![0]!.digest)).toBe(layerGets);
  });

  it('is silent with -q apart from the digest on stdout', async () => {
    const s = await store();
    const r = await runFlux(['pull', '-q', `${reg.host}/busybox`], { store: s });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${fx.busybox!.digest}\n`);
  });

  it('draws a progress bar per blob on a terminal', async () => {
    const s = await store();
    const r = await runFlux(['pull', `${reg.host}/multilayer`], { store: s, tty: true });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const out = r.stdout + r.stderr;
    for (const l of fx.multilayer!.layers!) expect(out).toContain(`${l.digest.slice(0, 19)}… [`);
    expect(out).toMatch(/\[\u2588+\] 1\.1 MB\/1\.1 MB/);
    expect(out).toContain(fx.multilayer!.digest);
  });

  it('pulls the multi-layer and the zstd images', async () => {
    const s = await store();
    for (const name of ['multilayer', 'busybox-zstd'] as const) {
      const r = await runFlux(['pull', `${reg.host}/${name}:latest`], { store: s });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(fx[name]!.digest);
      for (const d of fx[name]!.diffIds!) expect(existsSync(join(s, 'layers', 'sha256', d.slice(7)))).toBe(true);
    }
    const inspect = JSON.parse((await runFlux(['inspect', `${reg.host}/busybox-zstd`], { store: s })).stdout) as Array<{ Layers: Array<{ mediaType: string }> }>;
    expect(inspect[0]!.Layers.every((l) => l.mediaType.endsWith('+zstd'))).toBe(true);
    assertBlobsVerified(s);
  });

  it('chooses the platform from a multi-arch index: host by default, --platform on request', async () => {
    const s = await store();
    const ref = `${reg.host}/multiarch:latest`;
    const host = await runFlux(['pull', ref], { store: s });
    expect(host.code, host.stderr).toBe(0);
    expect(host.stdout.trim()).toBe(fx.multiarch!.children!['linux/amd64']!.digest);
    let info = JSON.parse((await runFlux(['inspect', ref], { store: s })).stdout) as Array<Record<string, unknown>>;
    expect(info[0]).toMatchObject({ Architecture: 'amd64', IndexDigest: fx.multiarch!.digest });

    const arm = await runFlux(['pull', '--platform', 'linux/arm64', ref], { store: s });
    expect(arm.code, arm.stderr).toBe(0);
    expect(arm.stdout.trim()).toBe(fx.multiarch!.children!['linux/arm64']!.digest);
    info = JSON.parse((await runFlux(['inspect', ref], { store: s })).stdout) as Array<Record<string, unknown>>;
    expect(info[0]).toMatchObject({ Architecture: 'arm64', Id: fx.multiarch!.children!['linux/arm64']!.config });

    const none = await runFlux(['pull', '--platform', 'linux/s390x', ref], { store: s });
    expect(none.code).not.toBe(0);
    noStack(none.stderr);
    expect(none.stderr).toContain('linux/s390x');
    expect(none.stderr).toContain('--platform');
  });

  it('refuses a single-platform image for another platform than --platform names, and records nothing', async () => {
    const s = await store();
    const ref = `${reg.host}/busybox:latest`;
    // The fixture is built for this machine's architecture.
    const own = process.arch === 'arm64' ? 'linux/arm64/v8' : 'linux/amd64';
    const other = process.arch === 'arm64' ? 'linux/amd64' : 'linux/arm64/v8';
    const refused = await runFlux(['pull', '--platform', other, ref], { store: s });
    expect(refused.code).not.toBe(0);
    noStack(refused.stderr);
    expect(refused.stderr).toContain(`is only for ${own}, not ${other}`);
    expect(refused.stderr).toContain(`--platform ${own}`);
    const listed = await runFlux(['images', '--json'], { store: s });
    expect(JSON.parse(listed.stdout)).toEqual([]);
    const same = await runFlux(['pull', '--platform', own, ref], { store: s });
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout.trim()).toBe(fx.busybox!.digest);
  });

  it('lets two concurrent pulls of one image share the work: each blob fetched once, both succeed', async () => {
    const s = await store();
    const ref = `${reg.host}/multilayer:latest`;
    const before = fx.multilayer!.layers!.map((l) => blobGets(l.digest));
    const [a, b] = await Promise.all([runFlux(['pull', ref], { store: s }), runFlux(['pull', ref], { store: s })]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(a.stdout.trim()).toBe(fx.multilayer!.digest);
    expect(b.stdout.trim()).toBe(fx.multilayer!.digest);
    fx.multilayer!.layers!.forEach((l, i) => expect(blobGets(l.digest) - before[i]!).toBe(1));
    assertBlobsVerified(s);
  });

  it('fails with one sentence for a missing tag, an unknown repository and --pull=never', async () => {
    const s = await store();
    for (const ref of [`${reg.host}/busybox:nope`, `${reg.host}/no-such-repo:latest`]) {
      const r = await runFlux(['pull', ref], { store: s });
      expect(r.code).not.toBe(0);
      noStack(r.stderr);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const never = await runFlux(['pull', '--pull=never', `${reg.host}/busybox`], { store: s });
    expect(never.code).not.toBe(0);
    expect(never.stderr).toMatch(/not in the store.*--pull=never/);
    const badPolicy = await runFlux(['pull', '--pull=sometimes', `${reg.host}/busybox`], { store: s });
    expect(badPolicy.code).not.toBe(0);
    expect(badPolicy.stderr).toContain('--pull=sometimes');
    expect(assertBlobsVerified(s)).toEqual([]);
  });
});
