/**
 * A config blob had no size limit: a 32 MiB config was downloaded whole into memory and copied
 * into the image index that every run reads. flux refuses a config whose descriptor declares
 * more than 4 MiB (skopeo's and podman's limit) and an image of more than 128 layers, from the
 * manifest alone: neither the config nor any layer is fetched, and the refusal names both limits.
 * The images are pushed, as built, to a real registry (docker-registry).
 */
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTar } from '../../fixtures/hostile/build.mjs';
import { startRegistry, sha256, type Registry } from '../helpers/registry.js';
import { requireTool } from '../helpers/require.js';
import { removeStore, runFlux, tempStore } from '../helpers/user.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const LIMITS = 'flux accepts configs up to 4194304 bytes (4 MiB) and at most 128 layers';

let reg: Registry;
let store: string;

interface Blob {
  digest: string;
  size: number;
}

async function pushBlob(repo: string, body: Buffer): Promise<Blob> {
  const digest = sha256(body);
  const start = await fetch(`http://${reg.directHost}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  expect(start.status).toBe(202);
  const location = new URL(start.headers.get('location')!, `http://${reg.directHost}`);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
  expect(put.status).toBe(201);
  return { digest, size: body.length };
}

async function pushImage(repo: string, config: Buffer, layers: Buffer[]): Promise<{ config: Blob; layers: Blob[] }> {
  const layerBlobs: Blob[] = [];
  for (const l of layers) layerBlobs.push(await pushBlob(repo, l));
  const configBlob = await pushBlob(repo, config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, ...configBlob },
    layers: layerBlobs.map((b) => ({ mediaType: OCI_LAYER, ...b })),
  });
  const put = await fetch(`http://${reg.directHost}/v2/${repo}/manifests/latest`, { method: 'PUT', body: manifest, headers: { 'content-type': OCI_MANIFEST } });
  expect(put.status).toBe(201);
  return { config: configBlob, layers: layerBlobs };
}

function configFor(diffIds: string[], padding = 0): Buffer {
  return Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['sh'], Labels: padding > 0 ? { padding: 'x'.repeat(padding) } : {} },
    rootfs: { type: 'layers', diff_ids: diffIds },
  }));
}

/** The blob GETs the registry saw for these digests. */
function fetched(digests: string[]): string[] {
  return reg.proxyRequests.filter((r) => r.method === 'GET' && digests.some((d) => r.url.endsWith(`/blobs/${d}`))).map((r) => r.url);
}

beforeAll(async () => {
  requireTool('docker-registry');
  requireTool('newuidmap');
  requireTool('busybox', () => readFileSync('/bin/busybox').length > 0, 'the 128-layer image runs a static busybox');
  // A proxy in front records what flux asks for; it passes everything on.
  reg = await startRegistry({ intercept: () => false });
  store = await tempStore();
}, 120_000);

afterAll(async () => {
  await reg?.stop();
  if (store) await removeStore(store);
});

describe('image size limits', () => {
  it('refuses a 5 MiB config without downloading it', async () => {
    const tar = await makeTar([{ name: 'hello', content: 'hi\n' }]);
    const config = configFor([sha256(tar)], 5 * 1024 * 1024);
    expect(config.length).toBeGreaterThan(5 * 1024 * 1024);
    const pushed = await pushImage('big-config', config, [gzipSync(tar)]);

    const r = await runFlux(['pull', '-q', `${reg.host}/big-config:latest`], { store });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`declares a config of ${config.length} bytes; ${LIMITS}.`);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(fetched([pushed.config.digest])).toEqual([]);
    expect(await readdir(join(store, 'blobs', 'sha256'))).not.toContain(pushed.config.digest.slice(7));
    expect(await readdir(join(store, 'layers', 'sha256'))).toEqual([]);
  }, 120_000);

  it('refuses an image of 129 layers without downloading any of them', async () => {
    const tars = await Promise.all(Array.from({ length: 129 }, (_, i) => makeTar([{ name: `f${i}`, content: `${i}\n` }])));
    const pushed = await pushImage('many-layers', configFor(tars.map((t) => sha256(t))), tars.map((t) => gzipSync(t)));

    const r = await runFlux(['pull', '-q', `${reg.host}/many-layers:latest`], { store });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`has 129 layers; ${LIMITS}.`);
    expect(fetched([pushed.config.digest, ...pushed.layers.map((l) => l.digest)])).toEqual([]);
    expect(await readdir(join(store, 'layers', 'sha256'))).toEqual([]);
  }, 120_000);

  it('still pulls and runs an image of 128 layers', async () => {
    const busybox = await makeTar([
      { name: 'bin/', type: 'directory' },
      { name: 'bin/busybox', content: readFileSync('/bin/busybox'), mode: 0o755 },
      { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    ]);
    const rest = await Promise.all(Array.from({ length: 127 }, (_, i) => makeTar([{ name: `g${i + 1}`, content: `${i + 1}\n` }])));
    const tars = [busybox, ...rest];
    await pushImage('max-layers', configFor(tars.map((t) => sha256(t))), tars.map((t) => gzipSync(t)));
    const pulled = await runFlux(['pull', '-q', `${reg.host}/max-layers:latest`], { store });
    expect(pulled.stderr).toBe('');
    expect(pulled.code).toBe(0);
    const r = await runFlux(['run', '--network', 'none', `${reg.host}/max-layers:latest`, '--', 'sh', '-c', 'cat /g1 /g127'], { store });
    expect(r.stdout).toBe('1\n127\n');
    expect(r.code).toBe(0);
  }, 120_000);
});
