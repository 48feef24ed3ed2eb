/**
 * Garbage collection decides "is this run alive" by the run's exact owner (pid, start time, pid
 * namespace, boot), never by a bare pid: a run dir whose pid now belongs to another process
 * (pid reuse) or that was recorded before the last boot no longer protects its layers, and a run
 * recorded in another pid namespace (a store shared by containers) keeps them, as does a live run.
 */
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureInfo, pushFixtures, type FixtureSummary } from '../helpers/fixtures.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { requireTool } from '../helpers/require.js';
import { isRoot, removeStore, runFlux, tempStore, testUser, userWorkDir } from '../helpers/user.js';

requireTool('docker-registry');
requireTool('skopeo');

let reg: Registry;
let fx: FixtureSummary;
let image: string;

const pidns = () => /\d+/.exec(readlinkSync('/proc/self/ns/pid'))![0];
const boot = () => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().replaceAll('-', '').slice(0, 16);
const startOf = (pid: number) => {
  const t = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return t.slice(t.lastIndexOf(')') + 2).split(' ')[19]!;
};
const layerDirs = (s: string) => readdirSync(join(s, 'layers', 'sha256')).filter((n) => /^[a-f0-9]{64}$/.test(n));

function unusedPid(): number {
  for (let p = 4_000_000; p > 1000; p--) if (!existsSync(`/proc/${p}`)) return p;
  throw new Error('no unused pid');
}

/** A run dir as a run of `owner` would have made it, listing the image's layers. */
async function fakeRun(s: string, owner: string): Promise<string> {
  const dir = join(s, 'runs', `${owner}-0123456789ab`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'layers'), fx.diffIds!.map((d) => `${d}\n`).join(''));
  if (isRoot) {
    const u = await testUser();
    for (const p of [join(s, 'runs'), dir, join(dir, 'layers')]) chownSync(p, u.uid, u.gid);
  }
  return dir;
}

async function pull(s: string): Promise<void> {
  const r = await runFlux(['pull', '-q', image], { store: s });
  expect(r.code, r.stderr).toBe(0);
}

beforeAll(async () => {
  reg = await startRegistry();
  await pushFixtures(reg, ['busybox']);
  fx = await fixtureInfo('busybox');
  image = `${reg.host}/busybox:latest`;
}, 300_000);

afterAll(async () => {
  await reg?.stop();
});

describe('gc liveness of runs', () => {
  it('a run dir with a live pid but another start time, or from an earlier boot, is collected', async () => {
    const s = await tempStore();
    // A live process whose pid the dead run "had": pid reuse.
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      await new Promise((r) => other.once('spawn', r));
      await pull(s);
      const wrongStart = String(Number(startOf(other.pid!)) + 7);
      const reused = await fakeRun(s, `${other.pid}-${wrongStart}-${pidns()}-${boot()}`);
      const earlierBoot = await fakeRun(s, `${other.pid}-${startOf(other.pid!)}-${pidns()}-0123456789abcdef`);
      const rmi = await runFlux(['rmi', image], { store: s });
      expect(rmi.code, rmi.stderr).toBe(0);
      expect(rmi.stderr).toMatch(new RegExp(`, ${fx.diffIds!.length} unpacked layers?`));
      expect(layerDirs(s)).toEqual([]);
      // And the next run sweeps both run dirs as stale.
      await pull(s);
      const run = await runFlux(['run', '--network', 'none', image, '--', 'true'], { store: s });
      expect(run.code, run.stderr).toBe(0);
      expect(existsSync(reused)).toBe(false);
      expect(existsSync(earlierBoot)).toBe(false);
    } finally {
      other.kill('SIGKILL');
      await removeStore(s);
    }
  }, 180_000);

  it('a matrix sweeps a dead run\'s dir once, before its first run, and leaves its own runs\' dirs to them', async () => {
    const s = await tempStore();
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      await new Promise((r) => other.once('spawn', r));
      await pull(s);
      const dead = await fakeRun(s, `${other.pid}-${String(Number(startOf(other.pid!)) + 7)}-${pidns()}-${boot()}`);
      const r = await runFlux(['matrix', '-q', '--network', 'none', `${image},${reg.host}/busybox@${fx.digest}`, '--', 'true'], { store: s });
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).toContain('2 passed, 0 failed');
      expect(existsSync(dead)).toBe(false);
      expect(readdirSync(join(s, 'runs'))).toEqual([]);
    } finally {
      other.kill('SIGKILL');
      await removeStore(s);
    }
  }, 180_000);

  it('a run recorded in another pid namespace keeps its layers, and the next run leaves its dir alone', async () => {
    const s = await tempStore();
    try {
      await pull(s);
      // Its pid means nothing here (no such process in our namespace): a bare pid check said "dead".
      const foreign = await fakeRun(s, `${unusedPid()}-4242-${Number(pidns()) + 1}-${boot()}`);
      const run = await runFlux(['run', '--network', 'none', image, '--', 'true'], { store: s });
      expect(run.code, run.stderr).toBe(0);
      expect(existsSync(foreign)).toBe(true);
      const rmi = await runFlux(['rmi', image], { store: s });
      expect(rmi.code, rmi.stderr).toBe(0);
      expect(rmi.stderr).toMatch(/, 0 unpacked layers/);
      expect(layerDirs(s).sort()).toEqual(fx.diffIds!.map((d) => d.slice(7)).sort());
      rmSync(foreign, { recursive: true, force: true });
      const prune = await runFlux(['prune'], { store: s });
      expect(prune.code, prune.stderr).toBe(0);
      expect(layerDirs(s)).toEqual([]);
    } finally {
      await removeStore(s);
    }
  }, 180_000);

  it('a live run is kept: its dir names its exact owner, and rmi leaves its layers', async () => {
    const s = await tempStore();
    try {
      await pull(s);
      // The run lasts until the test says so, however slow the machine: rmi must meet it alive.
      const work = await userWorkDir('flux-gc-live-');
      const running = runFlux(['run', '--network', 'none', '-v', `${work}:/w`, image, '--', 'sh', '-c', 'until [ -e /w/go ]; do sleep 0.05; done; echo done'], { store: s });
      let dir: string | undefined;
      for (let i = 0; i < 200 && !dir; i++) {
        for (const n of existsSync(join(s, 'runs')) ? readdirSync(join(s, 'runs')) : []) {
          const p = join(s, 'runs', n);
          // The layers file is written after the dir is made: read it only once it is there.
          if (existsSync(join(p, 'upper')) && existsSync(join(p, 'layers')) && readFileSync(join(p, 'layers'), 'utf8').trim() !== '') dir = p;
        }
        if (!dir) await sleep(50);
      }
      expect(dir, 'no run dir appeared').toBeDefined();
      const [pid, start, ns, b] = dir!.split('/').pop()!.split('-');
      expect(startOf(Number(pid))).toBe(start);
      expect(ns).toBe(pidns());
      expect(b).toBe(boot());
      expect(statSync(dir!).mode & 0o777).toBe(0o700);
      const rmi = await runFlux(['rmi', image], { store: s });
      expect(rmi.code, rmi.stderr).toBe(0);
      expect(rmi.stderr).toMatch(/, 0 unpacked layers/);
      writeFileSync(join(work, 'go'), '');
      const r = await running;
      rmSync(work, { recursive: true, force: true });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('done');
      const prune = await runFlux(['prune'], { store: s });
      expect(prune.code, prune.stderr).toBe(0);
      expect(layerDirs(s)).toEqual([]);
    } finally {
      await removeStore(s);
    }
  }, 180_000);
});
