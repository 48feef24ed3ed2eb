/**
 * Each fixture builds under a lock of its own: a worker that needs busybox never waits for
 * another one debootstrapping debian (minutes with an empty cache), and FLUX_FIXTURES_CACHE
 * points the debian build at a cache of the caller's choice.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildFixtures } from '../helpers/fixtures.js';
import { requireTool } from '../helpers/require.js';

let dir: string;
const saved = { PATH: process.env.PATH, FLUX_FIXTURES_CACHE: process.env.FLUX_FIXTURES_CACHE };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-fixture-locks-'));
});

afterEach(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await rm(dir, { recursive: true, force: true });
});

/**
 * A debootstrap on PATH that says it started, then holds on until the test releases it (or
 * 30 s pass, so a build that waits on it cannot hang the test forever) and fails.
 */
async function stallingDebootstrap(): Promise<{ started: string; release: string }> {
  const bin = join(dir, 'bin');
  const started = join(dir, 'started');
  const release = join(dir, 'release');
  await mkdir(bin);
  await writeFile(join(bin, 'debootstrap'), [
    '#!/bin/sh',
    `: > ${started}`,
    'i=0',
    `while [ ! -e ${release} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done`,
    'echo "E: stand-in debootstrap, released" >&2',
    'exit 1',
    '',
  ].join('\n'));
  await chmod(join(bin, 'debootstrap'), 0o755);
  process.env.PATH = `${bin}:${process.env.PATH ?? ''}`;
  return { started, release };
}

describe('fixture locks', () => {
  it('busybox builds while debian is still debootstrapping', async () => {
    requireTool('busybox-static', () => existsSync('/bin/busybox'), '/bin/busybox builds the fixtures');
    if (process.getuid?.() !== 0) return void requireTool('root', () => false, 'only root debootstraps the debian fixture');
    process.env.FLUX_FIXTURES_CACHE = join(dir, 'empty-cache');
    const { started, release } = await stallingDebootstrap();
    const order: string[] = [];
    const debian = buildFixtures(['debian']).then(
      () => order.push('debian built'),
      (err: Error) => order.push(`debian failed: ${err.message}`),
    );
    // The debian build holds its lock from here on, until `release` exists.
    while (!existsSync(started) && order.length === 0) await sleep(20);
    expect(order, 'the debian build did not run debootstrap for an empty FLUX_FIXTURES_CACHE').toEqual([]);

    await buildFixtures(['busybox']).then(() => order.push('busybox built'));
    await writeFile(release, '');
    await debian;
    expect(order[0]).toBe('busybox built');
    expect(order[1]).toMatch(/^debian failed: debootstrap failed with 1 \(E: stand-in debootstrap, released\); check that \S+ is reachable, or set FLUX_FIXTURES_CACHE/);
    // The failed debootstrap leaves no half-made tree behind.
    expect(existsSync(join(dir, 'empty-cache', 'bookworm-minbase'))).toBe(false);
  });
});
