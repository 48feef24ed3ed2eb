/** oci:, oci-archive: and docker-archive: imports through the binary as the test user. */
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureInfo, userFixtureDir, type FixtureSummary } from '../helpers/fixtures.js';
import { removeStore, runFlux, tempStore } from '../helpers/user.js';

let work: string;
let busybox: FixtureSummary;
let layoutDir: string;
const stores: string[] = [];

async function store(): Promise<string> {
  const s = await tempStore();
  stores.push(s);
  return s;
}

async function dockerArchive(out: string, opts: { gzipLayers?: boolean } = {}): Promise<void> {
  const blob = (d: string) => readFileSync(join(busybox.dir, 'blobs', 'sha256', d.slice(7)));
  const pack = tar.pack();
  const done = pipeline(pack, createWriteStream(out));
  const configName = `${busybox.config!.slice(7)}.json`;
  const layers = busybox.layers!.map((l, i) => ({ name: `layer${i}/layer.tar`, bytes: opts.gzipLayers ? blob(l.digest) : gunzipSync(blob(l.digest)) }));
  const manifest = [{ Config: configName, RepoTags: ['example.com/busybox:1.0'], Layers: layers.map((l) => l.name) }];
  pack.entry({ name: 'manifest.json' }, JSON.stringify(manifest));
  pack.entry({ name: configName }, blob(busybox.config!));
  for (const l of layers) {
    pack.entry({ name: l.name.split('/')[0]!, type: 'directory' });
    pack.entry({ name: l.name }, l.bytes);
  }
  pack.finalize();
  await done;
  await chmod(out, 0o644);
}

beforeAll(async () => {
  busybox = await fixtureInfo('busybox');
  layoutDir = await userFixtureDir('busybox');
  work = await mkdtemp('/tmp/flux-sources-');
  await chmod(work, 0o755);
});

afterAll(async () => {
  for (const s of stores) await removeStore(s);
  if (work) await rm(work, { recursive: true, force: true });
});

interface Inspected {
  Id: string;
  Reference: string;
  Layers: Array<{ mediaType: string; digest: string; diffId: string }>;
  ImageConfig: { rootfs: { diff_ids: string[] } };
}

async function importAndCheck(ref: string): Promise<Inspected> {
  const s = await store();
  const r = await runFlux(['pull', ref], { store: s });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout.trim()).toMatch(/^sha256:[a-f0-9]{64}$/);
  const [img] = JSON.parse((await runFlux(['inspect', ref], { store: s })).stdout) as Inspected[];
  expect(img!.Id).toBe(busybox.config);
  expect(img!.ImageConfig.rootfs.diff_ids).toEqual(busybox.diffIds);
  for (const d of busybox.diffIds!) expect(existsSync(join(s, 'layers', 'sha256', d.slice(7)))).toBe(true);
  // A second import reads nothing new.
  const again = await runFlux(['pull', ref], { store: s });
  expect(again.stderr).toContain('fetched 0 bytes');
  return img!;
}

describe('local image sources', () => {
  it('imports an OCI layout directory, with and without a tag', async () => {
    const img = await importAndCheck(`oci:${layoutDir}:latest`);
    expect(img.Reference).toBe(`oci:${layoutDir}:latest`);
    expect(img.Layers.map((l) => l.digest)).toEqual(busybox.layers!.map((l) => l.digest));
    await importAndCheck(`oci:${layoutDir}`);
    const s = await store();
    const bad = await runFlux(['pull', `oci:${layoutDir}:nope`], { store: s });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/^flux: .*no image tagged "nope".*latest/);
    const none = await runFlux(['pull', `oci:${work}/missing`], { store: s });
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/^flux: .*missing is not a directory holding an OCI image layout/);
  });

  it('imports an OCI archive in place', async () => {
    const file = join(work, 'busybox-oci.tar');
    execFileSync('tar', ['-C', busybox.dir, '-cf', file, 'oci-layout', 'index.json', 'blobs']);
    await chmod(file, 0o644);
    const img = await importAndCheck(`oci-archive:${file}`);
    expect(img.Layers.map((l) => l.mediaType)).toEqual(busybox.layers!.map((l) => l.mediaType));
    await importAndCheck(`oci-archive:${file}:latest`);
  });

  it('imports a docker save archive: uncompressed layers are blobs named by their diff_id', async () => {
    const file = join(work, 'busybox-docker.tar');
    await dockerArchive(file);
    const img = await importAndCheck(`docker-archive:${file}`);
    expect(img.Layers.map((l) => l.digest)).toEqual(busybox.diffIds);
    expect(img.Layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar')).toBe(true);
    await importAndCheck(`docker-archive:${file}:example.com/busybox:1.0`);

    const gz = join(work, 'busybox-docker-gz.tar');
    await dockerArchive(gz, { gzipLayers: true });
    const img2 = await importAndCheck(`docker-archive:${gz}`);
    expect(img2.Layers.map((l) => l.digest)).toEqual(busybox.layers!.map((l) => l.digest));

    const s = await store();
    const wrong = await runFlux(['pull', `docker-archive:${file}:other:2`], { store: s });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/^flux: .*holds no image named "other:2".*example.com\/busybox:1.0/);
    const notTar = join(work, 'not.tar');
    execFileSync('sh', ['-c', `echo hello > ${notTar}; chmod 644 ${notTar}`]);
    const bad = await runFlux(['pull', `docker-archive:${notTar}`], { store: s });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/^flux: .*not a tar archive/);
  });
});
