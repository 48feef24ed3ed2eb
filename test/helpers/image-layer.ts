/**
 * Test images made on the spot: the busybox fixture plus one layer of chosen entries (symlinks,
 * device nodes, files) and an optional change to its config, as an OCI layout the test user
 * can pull with `oci:DIR`.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmod, cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTar, type TarEntry } from '../../fixtures/build.mjs';
import { buildFixtures } from './fixtures.js';
import { isRoot, testUser } from './user.js';

export type { TarEntry };

export interface ImageConfig {
  config?: Record<string, unknown>;
  [key: string]: unknown;
}

/**
 * A new OCI layout under the temp dir: busybox, then a layer of `entries` on top (none when
 * empty), with `patch` applied to the image config. Owned by the test user when run as root.
 */
export async function busyboxWith(entries: TarEntry[], patch?: (config: ImageConfig) => void): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'flux-image-'));
  await cp(join(await buildFixtures(['busybox']), 'busybox'), dir, { recursive: true });
  const blob = (d: string) => join(dir, 'blobs/sha256', d.slice('sha256:'.length));
  const put = async (data: Buffer) => {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    await writeFile(blob(digest), data);
    return digest;
  };
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
  const manifest = JSON.parse(await readFile(blob(index.manifests[0].digest), 'utf8'));
  const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8'));
  if (entries.length > 0) {
    const layer = await makeTar(entries);
    const digest = await put(layer);
    manifest.layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: layer.length });
    config.rootfs.diff_ids.push(digest);
  }
  patch?.(config);
  const cfg = Buffer.from(JSON.stringify(config));
  manifest.config = { ...manifest.config, digest: await put(cfg), size: cfg.length };
  const man = Buffer.from(JSON.stringify(manifest));
  index.manifests = [{ ...index.manifests[0], digest: await put(man), size: man.length }];
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  if (isRoot) {
    const u = await testUser();
    execFileSync('chown', ['-R', `${u.uid}:${u.gid}`, dir]);
  }
  await chmod(dir, 0o755);
  return dir;
}
