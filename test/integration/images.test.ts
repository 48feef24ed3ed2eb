/** flux images / inspect / rmi / prune through the binary as the test user. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureInfo, pushFixtures, type FixtureSummary } from '../helpers/fixtures.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { requireTool } from '../helpers/require.js';
import { removeStore, runFlux, tempStore } from '../helpers/user.js';

requireTool('docker-registry');
requireTool('skopeo');

let reg: Registry;
let s: string;
const fx: Record<string, FixtureSummary> = {};

function du(path: string): number {
  return Number(execFileSync('du', ['-s', '-B1', path], { encoding: 'utf8' }).split('\t')[0]);
}

beforeAll(async () => {
  reg = await startRegistry();
  await pushFixtures(reg, ['busybox', 'multilayer']);
  fx.busybox = await fixtureInfo('busybox');
  fx.multilayer = await fixtureInfo('multilayer');
  s = await tempStore();
  for (const n of ['busybox', 'multilayer']) {
    const r = await runFlux(['pull', '-q', `${reg.host}/${n}:latest`], { store: s });
    if (r.code !== 0) throw new Error(r.stderr);
  }
});

afterAll(async () => {
  await reg?.stop();
  if (s) await removeStore(s);
});

describe('image commands', () => {
  it('lists images as a table and as stable JSON', async () => {
    const table = await runFlux(['images'], { store: s });
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE/);
    expect(lines.some((l) => l.startsWith(`${reg.host}/busybox `) && l.includes(fx.busybox!.config!.slice(7, 19)))).toBe(true);

    const json = await runFlux(['images', '--json'], { store: s });
    const list = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(list).toHaveLength(2);
    const bb = list.find((i) => i.repository === `${reg.host}/busybox`)!;
    expect(bb).toMatchObject({
      reference: `${reg.host}/busybox:latest`,
      tag: 'latest',
      id: fx.busybox!.config,
      digest: fx.busybox!.digest,
      platform: 'linux/amd64',
      size: statSync(join(fx.busybox!.dir, 'blobs', 'sha256', fx.busybox!.config!.slice(7))).size + fx.busybox!.layers!.reduce((n, l) => n + l.size, 0),
    });
    expect(bb.unpackedSize).toBeGreaterThan(0);
    expect(Object.keys(bb).sort()).toEqual(['created', 'digest', 'id', 'indexDigest', 'lastUsed', 'platform', 'pulledAt', 'reference', 'repository', 'size', 'tag', 'unpackedSize']);
  });

  it('inspects by name, short ID and digest', async () => {
    for (const name of [`${reg.host}/busybox`, fx.busybox!.config!.slice(7, 19), fx.busybox!.digest]) {
      const r = await runFlux(['inspect', name], { store: s });
      expect(r.code, r.stderr).toBe(0);
      const [img] = JSON.parse(r.stdout) as Array<{ Id: string; Digest: string; Manifest: { layers: unknown[] }; ImageConfig: { rootfs: { diff_ids: string[] } }; Config: { Cmd?: string[] } }>;
      expect(img!.Id).toBe(fx.busybox!.config);
      expect(img!.Digest).toBe(fx.busybox!.digest);
      expect(img!.Manifest.layers).toHaveLength(fx.busybox!.layers!.length);
      expect(img!.ImageConfig.rootfs.diff_ids).toEqual(fx.busybox!.diffIds);
    }
    const missing = await runFlux(['inspect', 'nothing-here'], { store: s });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toBe('flux: there is no container or image named "nothing-here". `flux ps -a` lists the containers and `flux images` the images.\n');
    // As docker and podman: what was found is printed, then what was not is reported.
    const some = await runFlux(['inspect', `${reg.host}/busybox`, 'nothing-here'], { store: s });
    expect(some.code).not.toBe(0);
    expect((JSON.parse(some.stdout) as Array<{ Id: string }>).map((i) => i.Id)).toEqual([fx.busybox!.config]);
    expect(some.stderr).toMatch(/^flux: there is no container or image named "nothing-here"\./);
  });

  it('rmi removes the image and its unshared blobs and layers; prune frees the rest', async () => {
    const before = du(s);
    const rmi = await runFlux(['rmi', `${reg.host}/multilayer`], { store: s });
    expect(rmi.code, rmi.stderr).toBe(0);
    expect(rmi.stdout).toContain(`Untagged: ${reg.host}/multilayer:latest`);
    expect(rmi.stderr).toMatch(/freed [1-9]\d* bytes/);
    // multilayer is built on busybox: the shared base layer stays, the others go.
    const shared = new Set(fx.busybox!.layers!.map((l) => l.digest));
    const own = fx.multilayer!.layers!.filter((l) => !shared.has(l.digest));
    expect(own.length).toBeGreaterThan(0);
    for (const l of own) expect(existsSync(join(s, 'blobs', 'sha256', l.digest.slice(7)))).toBe(false);
    fx.multilayer!.diffIds!.forEach((d) => {
      expect(existsSync(join(s, 'layers', 'sha256', d.slice(7)))).toBe(fx.busybox!.diffIds!.includes(d));
    });
    // busybox is untouched
    for (const l of fx.busybox!.layers!) expect(existsSync(join(s, 'blobs', 'sha256', l.digest.slice(7)))).toBe(true);
    expect(du(s)).toBeLessThan(before);

    const unknown = await runFlux(['rmi', 'no/such:image'], { store: s });
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/^flux: there is no image/);

    // Leftovers: an orphan blob and an interrupted download; prune removes them and says how much it freed.
    await writeFile(join(s, 'blobs', 'sha256', 'f'.repeat(64)), Buffer.alloc(200_000, 7));
    await writeFile(join(s, 'tmp', `${'e'.repeat(64)}.partial`), Buffer.alloc(100_000, 7));
    execFileSync('chown', ['-R', 'fluxtest:', join(s, 'blobs'), join(s, 'tmp')]);
    const mid = du(s);
    const prune = await runFlux(['prune'], { store: s });
    expect(prune.code, prune.stderr).toBe(0);
    const freed = Number(/freed (\d+) bytes \([\d.]+ [kMG]?B\)/.exec(prune.stdout)?.[1]);
    expect(freed).toBeGreaterThanOrEqual(300_000);
    expect(mid - du(s)).toBeGreaterThanOrEqual(300_000);
    expect(readdirSync(join(s, 'tmp'))).toEqual([]);
    expect(existsSync(join(s, 'blobs', 'sha256', 'f'.repeat(64)))).toBe(false);
    for (const l of fx.busybox!.layers!) expect(existsSync(join(s, 'blobs', 'sha256', l.digest.slice(7)))).toBe(true);

    const again = await runFlux(['prune'], { store: s });
    expect(again.stdout).toContain('freed 0 bytes');

    const gone = await runFlux(['rmi', fx.busybox!.config!.slice(7, 19)], { store: s });
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stdout).toContain(`Deleted: ${fx.busybox!.config!.slice(7, 19)}`);
    expect(readdirSync(join(s, 'blobs', 'sha256'))).toEqual([]);
    expect(readdirSync(join(s, 'layers', 'sha256'))).toEqual([]);
    const empty = JSON.parse((await runFlux(['images', '--json'], { store: s })).stdout);
    expect(empty).toEqual([]);
  });

  it('records NAME:TAG@DIGEST by its digest, under the name every command accepts', async () => {
    const own = await tempStore();
    try {
      const typed = `${reg.host}/busybox:foo@${fx.busybox!.digest}`;
      const pull = await runFlux(['pull', typed], { store: own });
      expect(pull.code, pull.stderr).toBe(0);
      const [img] = JSON.parse((await runFlux(['images', '--json'], { store: own })).stdout) as Array<Record<string, unknown>>;
      // The tag, which the registry may not even have, is dropped: the digest names the image.
      expect(img).toMatchObject({ reference: `${reg.host}/busybox@${fx.busybox!.digest}`, repository: `${reg.host}/busybox`, tag: null });
      for (const name of [typed, `${reg.host}/busybox@${fx.busybox!.digest}`]) {
        const inspect = await runFlux(['inspect', name], { store: own });
        expect(inspect.code, inspect.stderr).toBe(0);
        const run = await runFlux(['run', '--network', 'none', '--pull', 'never', name, '--', 'echo', 'pinned'], { store: own });
        expect(run.stdout, run.stderr).toBe('pinned\n');
      }
      const rmi = await runFlux(['rmi', typed], { store: own });
      expect(rmi.code, rmi.stderr).toBe(0);
      expect(JSON.parse((await runFlux(['images', '--json'], { store: own })).stdout)).toEqual([]);
    } finally {
      await removeStore(own);
    }
  });
});
