/**
 * `flux bench` as the unprivileged test user (runFlux's user when the tests run as root): the
 * shape of its report (every stage of a warm run, the total, the floors; numbers present and
 * positive; JSON that parses), never its numbers.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { buildFixtures, userFixtureDir } from '../helpers/fixtures.js';
import { runFlux, tempStore, removeStore } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

const STAGES = [
  'process start to command line',
  'run code loaded, helper started',
  'namespaces and id maps',
  'root filesystem assembly',
  'start of the command',
  'the command',
  'teardown',
  'total',
];

interface Figure {
  name: string;
  medianMs: number | null;
  minMs: number | null;
  maxMs: number | null;
  skipped?: string;
}

let store: string;

beforeAll(async () => {
  requireTool('newuidmap');
  requireTool('bwrap');
  await buildFixtures(['busybox']);
  store = await tempStore();
});

afterAll(async () => {
  if (store) await removeStore(store);
});

function expectMeasured(f: Figure): void {
  expect(f.skipped).toBeUndefined();
  for (const v of [f.minMs, f.medianMs, f.maxMs]) {
    expect(typeof v).toBe('number');
    expect(v).toBeGreaterThan(0);
  }
  expect(f.minMs!).toBeLessThanOrEqual(f.medianMs!);
  expect(f.medianMs!).toBeLessThanOrEqual(f.maxMs!);
}

describe('flux bench', () => {
  it('--json: every stage of a warm run of the shipped busybox, the total and both floors, as the unprivileged user', async () => {
    const r = await runFlux(['bench', '--runs', '3', '--json'], { store, timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { image: string; runs: number; rootfs: string; network: string; stages: Figure[]; floors: Figure[] };
    expect(report.image).toBe(`oci:${await userFixtureDir('busybox')}`);
    expect(report.runs).toBe(3);
    expect(report.network).toBe('none');
    expect(['native', 'fuse', 'copy']).toContain(report.rootfs);
    expect(report.stages.map((s) => s.name)).toEqual(STAGES);
    for (const s of report.stages) expectMeasured(s);
    expect(report.floors.map((f) => f.name)).toEqual(['node -e 0', 'bwrap, same tree']);
    for (const f of report.floors) expectMeasured(f);
  });

  it('prints a table naming the image, the root kind, the network, each stage and the floors', async () => {
    const r = await runFlux(['bench', '--runs', '1'], { store, timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^flux bench: oci:\S+fixtures\/out\/busybox\n1 warm runs of `true` after a warm-up; root: .+; network: none\n/);
    for (const name of [...STAGES, 'node -e 0', 'bwrap, same tree']) expect(r.stdout).toMatch(new RegExp(`^  ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+\\d+\\.\\d ms   \\d+\\.\\d – \\d+\\.\\d ms$`, 'm'));
  });

  it('measures a named stored image; one not in the store is refused in one sentence', async () => {
    const image = `oci:${await userFixtureDir('busybox')}`;
    const named = await runFlux(['bench', image, '--runs', '1', '--json'], { store, timeoutMs: 120_000 });
    expect(named.code).toBe(0);
    expect((JSON.parse(named.stdout) as { image: string }).image).toBe(image);
    const missing = await runFlux(['bench', 'example.invalid/none:latest', '--runs', '1'], { store });
    expect(missing.code).not.toBe(0);
    expect(missing.stdout).toBe('');
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/^flux: .*example\.invalid\/none:latest.*flux pull/);
  });

  it('refuses a number of runs that is not a whole positive number', async () => {
    for (const runs of ['0', 'ten']) {
      const r = await runFlux(['bench', '--runs', runs], { store });
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/^flux: .*runs.*--runs a whole number/);
    }
  });
});
