/**
 * What the store keeps beside its layers and in tmp/: a `flux load` reading standard input keeps
 * its spool while `flux prune` runs; prune removes the temp files of layer-info writers that are
 * gone and info files without a layer, and leaves a live writer's; a layer found without its
 * info file gets it back from the next pull or run, with its opaque directories.
 */
import { spawn } from 'node:child_process';
import { chownSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerToken } from '../../src/process-owner.js';
import { buildFixtures, userFixtureDir } from '../helpers/fixtures.js';
import { fluxBin, isRoot, removeStore, runAs, runFlux, tempStore, testUser, userWorkDir } from '../helpers/user.js';

let multilayer: string;
let work: string;
const stores: string[] = [];

async function store(): Promise<string> {
  const s = await tempStore();
  stores.push(s);
  return s;
}

interface Image { reference: string; unpackedSize: number }

async function images(s: string): Promise<Image[]> {
  const r = await runFlux(['images', '--json'], { store: s });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Image[];
}

function layersDir(s: string): string {
  return join(s, 'layers', 'sha256');
}

beforeAll(async () => {
  await buildFixtures(['busybox', 'multilayer']);
  multilayer = `oci:${await userFixtureDir('multilayer')}`;
  work = await userWorkDir('flux-store-leftovers-');
}, 300_000);

afterAll(async () => {
  for (const s of stores) await removeStore(s);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('flux load from standard input and flux prune', () => {
  it('prune waits for the load instead of deleting its spool, and the spool is gone afterwards', { timeout: 120_000 }, async () => {
    const src = await store();
    const pulled = await runFlux(['pull', '-q', `oci:${await userFixtureDir('busybox')}`], { store: src });
    expect(pulled.code, pulled.stderr).toBe(0);
    const archive = join(work, 'busybox.tar');
    const save = await runFlux(['save', '-o', archive, pulled.stdout.trim()], { store: src });
    expect(save.code, save.stderr).toBe(0);

    // The archive reaches the load only once the test has created `go`: the load has made its
    // spool in tmp/ by then, and prune runs while it waits.
    const s = await store();
    const go = join(work, 'go');
    const feed = `while [ ! -e ${go} ]; do sleep 0.05; done; cat ${archive}`;
    const loading = runAs(await testUser(), 'sh', ['-c', `(${feed}) | ${process.execPath} ${await fluxBin()} load`], { store: s, timeoutMs: 90_000 });
    const tmp = join(s, 'tmp');
    for (let i = 0; i < 600 && !(existsSync(tmp) && readdirSync(tmp).some((n) => n.startsWith('load-'))); i++) await sleep(50);
    expect(readdirSync(tmp).filter((n) => n.startsWith('load-'))).toHaveLength(1);

    const pruning = runFlux(['prune'], { store: s, timeoutMs: 90_000 });
    // prune is under way (or already waiting) before the archive arrives.
    await sleep(1000);
    writeFileSync(go, '');
    const [load, prune] = await Promise.all([loading, pruning]);
    expect(load.code, load.stderr).toBe(0);
    expect(load.stdout).toMatch(/^Loaded image: /);
    expect(prune.code, prune.stderr).toBe(0);
    expect(await images(s)).toHaveLength(1);
    expect(readdirSync(tmp).filter((n) => n.startsWith('load-'))).toEqual([]);
  });
});

describe('files beside the layers', () => {
  it('prune removes the info temp files of gone writers and infos without a layer, not a live writer\'s', { timeout: 120_000 }, async () => {
    const s = await store();
    const r = await runFlux(['pull', '-q', multilayer], { store: s });
    expect(r.code, r.stderr).toBe(0);
    const dir = layersDir(s);
    const layer = readdirSync(dir).find((n) => /^[a-f0-9]{64}$/.test(n))!;
    // A writer that has exited: the pid of a process that ran and was waited for.
    const gone = await new Promise<number>((resolve) => {
      const c = spawn('true');
      c.on('close', () => resolve(c.pid!));
    });
    const deadTemp = `${layer}.json.${gone}.tmp`;
    const liveTemp = `${layer}.json.${ownerToken()}.tmp`;
    const orphan = `${'e'.repeat(64)}.json`;
    const u = await testUser();
    for (const n of [deadTemp, liveTemp, orphan]) {
      writeFileSync(join(dir, n), '{"size":1');
      if (isRoot) chownSync(join(dir, n), u.uid, u.gid);
    }
    const prune = await runFlux(['prune'], { store: s });
    expect(prune.code, prune.stderr).toBe(0);
    expect(prune.stderr).toMatch(/, 2 temporary files/);
    const left = readdirSync(dir);
    expect(left).not.toContain(deadTemp);
    expect(left).not.toContain(orphan);
    expect(left).toContain(liveTemp);
    expect(left).toContain(`${layer}.json`);
    rmSync(join(dir, liveTemp));
  });

  it('a layer without its info file gets it back, opaque directories included, from the next pull and the next run', { timeout: 180_000 }, async () => {
    const s = await store();
    const r = await runFlux(['pull', '-q', multilayer], { store: s });
    expect(r.code, r.stderr).toBe(0);
    const ref = r.stdout.trim();
    const [before] = await images(s);
    expect(before!.unpackedSize).toBeGreaterThan(0);
    const dir = layersDir(s);
    const infos = readdirSync(dir).filter((n) => /^[a-f0-9]{64}\.json$/.test(n));
    // The layer with the opaque directory: how a run resolves files under it depends on its info.
    const opaqueInfo = infos.find((n) => ((JSON.parse(readFileSync(join(dir, n), 'utf8')) as { opaque?: string[] }).opaque ?? []).length > 0)!;
    expect(opaqueInfo).toBeDefined();
    const saved = Object.fromEntries(infos.map((n) => [n, readFileSync(join(dir, n), 'utf8')]));

    // As a crash of a pull between moving the layers in and writing their info leaves the
    // store: the layers there, neither their info nor the image's record.
    for (const n of infos) rmSync(join(dir, n));
    rmSync(join(s, 'index', 'images.json'));
    const again = await runFlux(['pull', '-q', multilayer], { store: s });
    expect(again.code, again.stderr).toBe(0);
    for (const n of infos) expect(JSON.parse(readFileSync(join(dir, n), 'utf8')), n).toEqual(JSON.parse(saved[n]!));
    expect((await images(s))[0]!.unpackedSize).toBe(before!.unpackedSize);

    rmSync(join(dir, opaqueInfo));
    const run = await runFlux(['run', '--network', 'none', '--pull', 'never', ref, '--', 'true'], { store: s });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, opaqueInfo), 'utf8'))).toEqual(JSON.parse(saved[opaqueInfo]!));
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});
