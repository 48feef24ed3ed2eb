/**
 * `flux stats` block I/O: the bytes a detached container's processes made the kernel write to
 * storage, from /proc/PID/io, as the unprivileged test user. The store is on a block device here
 * (a write to tmpfs would count nothing); no timing is asserted, every wait is a poll.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { rm } from 'node:fs/promises';
import { buildFixtures, userFixtureDir } from '../helpers/fixtures.js';
import { runFlux, removeStore, tempStore, userRuntimeDir } from '../helpers/user.js';
import { removeContainers } from '../helpers/containers.js';
import { requireTool } from '../helpers/require.js';

let store: string;
let runtime: string;
let busybox: string;

const flux = (args: string[]) => runFlux(args, { store, env: { XDG_RUNTIME_DIR: runtime } });

beforeAll(async () => {
  requireTool('newuidmap');
  await buildFixtures(['busybox']);
  store = await tempStore();
  busybox = `oci:${await userFixtureDir('busybox')}`;
  runtime = await userRuntimeDir('flux-blkio-runtime-');
  expect((await flux(['pull', '-q', busybox])).code).toBe(0);
});

afterAll(async () => {
  if (runtime) {
    await removeContainers(flux);
    await rm(runtime, { recursive: true, force: true });
  }
  if (store) await removeStore(store);
});

describe('flux stats block I/O', () => {
  it('counts what the container\'s shell wrote to its writable layer', async () => {
    // The shell itself writes (echo is a builtin): 256 lines of 4 KiB, about 1 MiB, then stays.
    const script = 's=a; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do s="$s$s"; done; i=0; while [ $i -lt 256 ]; do echo "$s" >> /data; i=$((i+1)); done; echo written; sleep 1000';
    const r = await flux(['run', '-d', '--network', 'none', '--name', 'writer', busybox, '--', 'sh', '-c', script]);
    expect(r.code).toBe(0);
    const end = Date.now() + 30_000;
    while ((await flux(['logs', 'writer'])).stdout !== 'written\n') {
      if (Date.now() > end) throw new Error('the container never wrote its file');
      await new Promise((res) => setTimeout(res, 100));
    }
    const stats = await flux(['stats', '--no-stream', '--format', 'json', 'writer']);
    expect(stats.code).toBe(0);
    const [usage] = JSON.parse(stats.stdout) as { blockReadBytes: number | null; blockWriteBytes: number | null }[];
    expect(usage!.blockWriteBytes).toBeGreaterThanOrEqual(1024 * 1024);
    expect(usage!.blockReadBytes).not.toBeNull();
    const table = await flux(['stats', '--no-stream', 'writer']);
    expect(table.stdout).toMatch(/BLOCK I\/O/);
    expect(table.stdout).toMatch(/\swriter\s.*\s\d+(\.\d+)? [kMG]?B \/ \d+(\.\d+)? MB\s+\d+\n/);
    expect((await flux(['rm', '-f', 'writer'])).code).toBe(0);
  });
});
