/**
 * Ctrl-C during `flux matrix` and `flux run`, as the unprivileged test user: a command that
 * ignores the signal is killed with its whole container after the grace period (or at once on a
 * second signal), the report is written whatever ended the matrix, the exit code tells of the
 * signal, and no process, mount or run directory is left behind.
 */
import { readFile, readdir, rm } from 'node:fs/promises';
import { readFileSync, readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userFixtureDir } from '../helpers/fixtures.js';
import { appDir, isRoot, removeStore, runFlux, tempStore, testUser, userWorkDir } from '../helpers/user.js';
import { findAll, parseXml } from '../support/xml-parser.js';
import { requireTool } from '../helpers/require.js';
import { startRegistry } from '../helpers/registry.js';
import { pushFixtures } from '../helpers/fixtures.js';
import type { ServerResponse } from 'node:http';

const ready = requireTool('newuidmap') && requireTool('skopeo') && requireTool('docker-registry');

interface Flux {
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
  signal(sig: NodeJS.Signals): void;
  waitFor(what: () => boolean, label: string): Promise<void>;
}

/** Command lines of every process on the host that mention `text`. */
function processesWith(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.includes(text)) found.push(`${pid}: ${cmd}`);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

describe.skipIf(!ready)('Ctrl-C during a matrix and a run', () => {
  let store: string;
  let work: string;
  let images: string;

  beforeAll(async () => {
    images = [`oci:${await userFixtureDir('busybox')}`, `oci:${await userFixtureDir('distro-alt')}`].join(',');
    store = await tempStore();
    work = await userWorkDir('flux-matrix-int-');
  }, 600_000);

  afterAll(async () => {
    if (store) await removeStore(store);
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** bin/flux.js as the test user, the signal going to flux and nothing in between. */
  async function startFlux(args: string[]): Promise<Flux> {
    const u = await testUser();
    const app = await appDir();
    const env = { HOME: u.home, PATH: '/usr/local/bin:/usr/bin:/bin', USER: u.name, LOGNAME: u.name, FLUX_STORE: store };
    const child = isRoot
      ? spawn('setpriv', [`--reuid=${u.uid}`, `--regid=${u.gid}`, '--init-groups', '--', process.execPath, join(app, 'bin/flux.js'), ...args], { env, cwd: app })
      : spawn(process.execPath, [join(app, 'bin/flux.js'), ...args], { env, cwd: app });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    return {
      out: () => out,
      err: () => err,
      exited,
      signal: (sig) => void child.kill(sig),
      async waitFor(what, label) {
        const deadline = Date.now() + 60_000;
        while (!what() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect(what(), `${label}\n${out}\n${err}`).toBe(true);
      },
    };
  }

  /** Ignores SIGINT and SIGTERM, as a `sh -c '… make …'` does for make: only SIGKILL ends it. */
  const stubborn = (marker: string): string[] => ['sh', '-c', 'trap "" INT TERM; echo started; while :; do sleep 1; done', marker];

  async function expectNothingLeft(marker: string): Promise<void> {
    // The helper tells flux the run is cleaned up just before its own exit, which flux does not wait for.
    const left = (): string[] => [...processesWith(marker), ...processesWith(join(store, 'runs'))];
    const deadline = Date.now() + 10_000;
    while (left().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(processesWith(marker)).toEqual([]);
    // The helpers and any fuse-overlayfs name the store's run directories on their command lines.
    expect(processesWith(join(store, 'runs'))).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(store);
    expect(await readdir(join(store, 'runs')).catch(() => [])).toEqual([]);
  }

  const started = (f: Flux) => () => (f.out().match(/\] started$/gm) ?? []).length === 2;

  it('one SIGINT: runs that ignore it are killed after --stop-timeout, marked interrupted, reported, exit 130', async () => {
    const marker = `flux-int-${randomBytes(6).toString('hex')}`;
    const results = join(work, 'one');
    const junit = join(work, 'one.xml');
    const f = await startFlux(['matrix', '--stop-timeout', '1', '--network', 'none', '--output', 'prefix', '--results', results, '--junit', junit, images, '--', ...stubborn(marker)]);
    await f.waitFor(started(f), 'both runs started');
    f.signal('SIGINT');
    expect(await f.exited, f.err()).toBe(130);
    expect(f.out()).toMatch(/0 passed, 0 failed, 0 skipped, 2 interrupted/);
    expect(f.err()).not.toMatch(/internal error|\n\s+at /);
    const rows = JSON.parse(await readFile(join(results, 'results.json'), 'utf8')) as { verdict: string; exitCode: number }[];
    expect(rows.map((r) => [r.verdict, r.exitCode])).toEqual([['interrupted', 137], ['interrupted', 137]]);
    for (const d of (await readdir(results)).filter((n) => n !== 'results.json')) {
      expect(await readFile(join(results, d, 'exit-code'), 'utf8')).toBe('137\n');
    }
    const root = parseXml(await readFile(junit, 'utf8'));
    expect(findAll(root, 'testcase').map((c) => findAll(c, 'error').length)).toEqual([1, 1]);
    await expectNothingLeft(marker);
  }, 90_000);

  it('two SIGINTs: killed at once, still reported, exit 130', async () => {
    const marker = `flux-int-${randomBytes(6).toString('hex')}`;
    const results = join(work, 'two');
    // A grace period far longer than the test may take: only the second signal can end the runs.
    const f = await startFlux(['matrix', '--stop-timeout', '3600', '--network', 'none', '--output', 'prefix', '--results', results, images, '--', ...stubborn(marker)]);
    await f.waitFor(started(f), 'both runs started');
    f.signal('SIGINT');
    await f.waitFor(() => f.err().includes('SIGINT received'), 'the first signal was seen');
    f.signal('SIGINT');
    expect(await f.exited, f.err()).toBe(130);
    expect(f.out()).toMatch(/2 interrupted/);
    expect(f.err()).not.toMatch(/internal error|\n\s+at /);
    expect((await readdir(results)).sort()).toHaveLength(3);
    await expectNothingLeft(marker);
  }, 90_000);

  it('SIGTERM: exit 143, with the report', async () => {
    const marker = `flux-int-${randomBytes(6).toString('hex')}`;
    const f = await startFlux(['matrix', '--json', '--stop-timeout', '0', '--network', 'none', '--output', 'prefix', images, '--', ...stubborn(marker)]);
    await f.waitFor(() => (f.out().match(/\] started\n/g) ?? []).length === 2, 'both runs started');
    f.signal('SIGTERM');
    expect(await f.exited, f.err()).toBe(143);
    const json = f.out().slice(f.out().indexOf('[\n  {'));
    expect((JSON.parse(json) as { verdict: string }[]).map((r) => r.verdict)).toEqual(['interrupted', 'interrupted']);
    await expectNothingLeft(marker);
  }, 90_000);

  it('a pull that never ends does not hold the report up: the image is skipped, exit 130', async () => {
    const held: ServerResponse[] = [];
    const shared = store;
    const cleanup: string[] = [];
    // Every blob of this repository hangs: its pull never finishes.
    const reg = await startRegistry({
      intercept: (req, res) => {
        if (req.method !== 'GET' || !/^\/v2\/stalled\/blobs\//.test(req.url ?? '')) return false;
        held.push(res);
        return true;
      },
    });
    try {
      await pushFixtures(reg, ['busybox'], { repo: () => 'stalled' });
      const marker = `flux-int-${randomBytes(6).toString('hex')}`;
      const stalled = `${reg.host}/stalled:latest`;
      // distro-alt shares busybox's layer with the stalled image: pulled first, so that its run never
      // waits on the stalled pull's lock on that layer (which of the two took it first was a race).
      const running = images.split(',')[1]!;
      store = await tempStore();
      cleanup.push(store);
      const pulled = await runFlux(['pull', '-q', running], { store });
      expect(pulled.code, pulled.stderr).toBe(0);
      const results = join(work, 'stalled');
      const f = await startFlux(['matrix', '--stop-timeout', '1', '--network', 'none', '--output', 'prefix', '--results', results, `${running},${stalled}`, '--', ...stubborn(marker)]);
      await f.waitFor(() => f.out().includes(`[${running}] started`) && held.length > 0, 'one run started, the other image pulling');
      f.signal('SIGINT');
      expect(await f.exited, f.err()).toBe(130);
      expect(f.out()).toMatch(/0 passed, 0 failed, 1 skipped, 1 interrupted/);
      const rows = JSON.parse(await readFile(join(results, 'results.json'), 'utf8')) as { image: string; verdict: string }[];
      expect(rows.map((r) => [r.image, r.verdict])).toEqual([[running, 'interrupted'], [stalled, 'skipped']]);
      await expectNothingLeft(marker);
    } finally {
      for (const res of held) res.destroy();
      await reg.stop();
      store = shared;
      for (const s of cleanup) await removeStore(s);
    }
  }, 300_000);

  it('flux run: the first SIGINT goes to the command, a second kills the container at once', async () => {
    const marker = `flux-int-${randomBytes(6).toString('hex')}`;
    const script = 'trap "echo got-int" INT; echo started; while :; do sleep 1; done';
    const f = await startFlux(['run', '--network', 'none', images.split(',')[0]!, '--', 'sh', '-c', script, marker]);
    await f.waitFor(() => f.out().includes('started\n'), 'the command started');
    f.signal('SIGINT');
    await f.waitFor(() => f.out().includes('got-int\n'), 'the command got the first SIGINT');
    f.signal('SIGINT');
    expect(await f.exited, f.err()).toBe(137);
    expect(f.err()).not.toMatch(/internal error|\n\s+at /);
    await expectNothingLeft(marker);
  }, 90_000);
});
