/**
 * `flux rmi` and `flux prune` while a container runs: its unpacked layers are its overlay's
 * lower dirs and must stay until it exits; after that, prune frees them.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureInfo, pushFixtures, type FixtureSummary } from '../helpers/fixtures.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { requireTool } from '../helpers/require.js';
import { removeStore, runFlux, tempStore } from '../helpers/user.js';

requireTool('docker-registry');
requireTool('skopeo');

let reg: Registry;
let s: string;
let fx: FixtureSummary;

function layerDirs(store: string): string[] {
  const dir = join(store, 'layers', 'sha256');
  return existsSync(dir) ? readdirSync(dir).filter((n) => /^[a-f0-9]{64}$/.test(n)) : [];
}

function listedLayers(rundir: string): boolean {
  try {
    return readFileSync(join(rundir, 'layers'), 'utf8').trim() !== '';
  } catch {
    return false;
  }
}

/**
 * The run dir of the one running container, once it has listed its layers: the sandbox helper
 * makes the `layers` file empty, and flux writes the list into it a moment later.
 */
async function waitForRunDir(store: string, deadline: Promise<unknown>): Promise<string> {
  let done = false;
  void deadline.finally(() => void (done = true));
  while (!done) {
    const runs = join(store, 'runs');
    for (const n of existsSync(runs) ? readdirSync(runs) : []) {
      if (listedLayers(join(runs, n)) && existsSync(join(runs, n, 'upper'))) return join(runs, n);
    }
    await sleep(50);
  }
  throw new Error('the run ended before its run dir appeared');
}

beforeAll(async () => {
  reg = await startRegistry();
  await pushFixtures(reg, ['busybox']);
  fx = await fixtureInfo('busybox');
  s = await tempStore();
  const r = await runFlux(['pull', '-q', `${reg.host}/busybox:latest`], { store: s });
  if (r.code !== 0) throw new Error(r.stderr);
});

afterAll(async () => {
  await reg?.stop();
  if (s) await removeStore(s);
});

describe('rmi and prune while a container runs', () => {
  it('keep the running container\'s layers, and prune frees them after it exits', { timeout: 120_000 }, async () => {
    const image = `${reg.host}/busybox:latest`;
    const layers = layerDirs(s);
    expect(layers.sort()).toEqual(fx.diffIds!.map((d) => d.slice(7)).sort());

    // The container runs until the test has done its rmi and prune (it creates `go`), however
    // long they take on a loaded machine.
    const sig = mkdtempSync(join(tmpdir(), 'flux-prune-running-'));
    chmodSync(sig, 0o777);
    const wait = 'i=0; while [ ! -e /sig/go ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done';
    const running = runFlux(['run', '--network', 'none', '-v', `${sig}:/sig:ro`, image, '--', 'sh', '-c', `${wait}; cat /etc/os-release`], { store: s, timeoutMs: 90_000 });
    const rundir = await waitForRunDir(s, running);
    // The run dir is private, and lists the image's layers.
    expect(statSync(rundir).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(rundir, 'layers'), 'utf8').trim().split('\n').sort()).toEqual([...fx.diffIds!].sort());

    const rmi = await runFlux(['rmi', image], { store: s });
    expect(rmi.code, rmi.stderr).toBe(0);
    expect(rmi.stdout).toContain(`Untagged: ${image}`);
    expect(rmi.stderr).toMatch(/, 0 unpacked layers/);
    const prune = await runFlux(['prune'], { store: s });
    expect(prune.code, prune.stderr).toBe(0);
    expect(prune.stderr).toMatch(/, 0 unpacked layers,/);
    expect(layerDirs(s).sort()).toEqual([...layers].sort());

    writeFileSync(join(sig, 'go'), '');
    const r = await running;
    rmSync(sig, { recursive: true, force: true });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('ID=flux-busybox');
    expect(r.stdout).toContain('PRETTY_NAME="flux busybox fixture"');

    const after = await runFlux(['prune'], { store: s });
    expect(after.code, after.stderr).toBe(0);
    expect(after.stderr).toMatch(new RegExp(`, ${layers.length} unpacked layers?,`));
    expect(layerDirs(s)).toEqual([]);
    expect(readdirSync(join(s, 'layers', 'sha256')).filter((n) => n.endsWith('.json'))).toEqual([]);
  });
});
