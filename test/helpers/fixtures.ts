/**
 * Test images: built once (fixtures/build.mjs, offline, reproducible) and pushed to a test
 * registry with skopeo, digests preserved.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as builder from '../../fixtures/build.mjs';
import { withLock } from './lock.js';
import type { Registry } from './registry.js';
import { REPO_ROOT, userPath } from './user.js';

const run = promisify(execFile);

export type FixtureName = 'busybox' | 'multilayer' | 'busybox-zstd' | 'multiarch' | 'distro-alt' | 'debian';
export const FIXTURE_NAMES: FixtureName[] = builder.FIXTURES;
export const DEFAULT_FIXTURES: FixtureName[] = builder.DEFAULT_FIXTURES;
export const FIXTURES_OUT = join(REPO_ROOT, 'fixtures/out');

export interface LayerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** fixtures/out/<name>.json: what tests compare the store against. */
export interface FixtureSummary {
  name: FixtureName;
  tag: 'latest';
  dir: string;
  /** digest of the top-level manifest (an index for multiarch) */
  digest: string;
  mediaType: string;
  size: number;
  config?: string;
  layers?: LayerDescriptor[];
  diffIds?: string[];
  platform?: { architecture: string; os: string; variant?: string };
  children?: Record<string, { digest: string; config: string; layers: LayerDescriptor[]; diffIds: string[] }>;
}

const built = new Map<string, Promise<void>>();

/**
 * Build the fixtures (default: all but `debian`, which debootstraps and is built only when
 * named) once per process. Each fixture has a lock of its own, so a worker needing busybox
 * never waits for another one's minutes of debootstrap. Returns fixtures/out.
 */
export async function buildFixtures(names: FixtureName[] = DEFAULT_FIXTURES): Promise<string> {
  for (const name of names) {
    if (built.has(name)) continue;
    const p = (async () => {
      await mkdir(FIXTURES_OUT, { recursive: true });
      await withLock(join(FIXTURES_OUT, `.lock-${name}`), async () => {
        await builder.build([name], { outDir: FIXTURES_OUT });
      });
    })();
    // A failed build is tried again by the next caller rather than remembered.
    p.catch(() => built.delete(name));
    built.set(name, p);
  }
  await Promise.all(names.map((n) => built.get(n)));
  return FIXTURES_OUT;
}

/** Summary of a built fixture: digests of its manifest, config and layers. */
export async function fixtureInfo(name: FixtureName): Promise<FixtureSummary> {
  await buildFixtures([name]);
  return JSON.parse(await readFile(join(FIXTURES_OUT, `${name}.json`), 'utf8')) as FixtureSummary;
}

/** Credentials skopeo should use against this registry, if it wants any. */
function credsArgs(reg: Registry, flag: '--dest-creds' | '--src-creds'): string[] {
  return reg.username && reg.password ? [flag, `${reg.username}:${reg.password}`] : [];
}

/**
 * Push fixtures to `reg` as `<name>:latest` (and any extra `tags`), straight to the registry
 * (not through a test proxy), keeping every digest and the zstd layers as they are.
 */
export async function pushFixtures(reg: Registry, names: FixtureName[] = DEFAULT_FIXTURES, opts: { tags?: string[]; repo?: (name: FixtureName) => string } = {}): Promise<void> {
  const out = await buildFixtures(names);
  for (const name of names) {
    const repo = opts.repo?.(name) ?? name;
    for (const tag of ['latest', ...(opts.tags ?? [])]) {
      await run('skopeo', [
        '--insecure-policy', 'copy', '--all', '--preserve-digests', '--retry-times', '2',
        '--dest-tls-verify=false', ...credsArgs(reg, '--dest-creds'),
        `oci:${join(out, name)}:latest`, `docker://${reg.directHost}/${repo}:${tag}`,
      ], { timeout: 120_000 });
    }
  }
}

/** Path of a fixture's OCI layout as the test user sees it (for `oci:` references). */
export async function userFixtureDir(name: FixtureName): Promise<string> {
  await buildFixtures([name]);
  return await userPath(`fixtures/out/${name}`);
}
