/**
 * Many matrix runs inside one flux process, as the unprivileged test user: each run's output
 * stays its own, errors stay one sentence in that run, no listener piles up per run, and a plain
 * `flux run` still passes the host's signals on to its command.
 */
import { mkdtemp, readFile, readdir, rm, symlink, chmod, chown } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userFixtureDir } from '../helpers/fixtures.js';
import { appDir, isRoot, removeStore, runFlux, tempStore, testUser } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

const ready = requireTool('newuidmap') && requireTool('skopeo');
const COPIES = 10;

interface JsonRow {
  image: string;
  exitCode: number | null;
  verdict: string;
  stdoutPath?: string;
  stderrPath?: string;
}

describe.skipIf(!ready)('matrix runs inside the matrix process', () => {
  let store: string;
  let work: string;
  let busybox: string;
  let alt: string;
  /** The busybox layout under COPIES names: distinct images to the matrix, one set of layers. */
  let copies: string[];

  beforeAll(async () => {
    busybox = await userFixtureDir('busybox');
    alt = await userFixtureDir('distro-alt');
    store = await tempStore();
    work = await mkdtemp(join(tmpdir(), 'flux-matrix-inproc-'));
    copies = [];
    for (let k = 0; k < COPIES; k++) {
      const link = join(work, `busybox-${k}`);
      await symlink(busybox, link);
      copies.push(`oci:${link}`);
    }
    if (isRoot) {
      const u = await testUser();
      await chown(work, u.uid, u.gid);
    }
    await chmod(work, 0o755);
  }, 600_000);

  afterAll(async () => {
    if (store) await removeStore(store);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('keeps each run\'s stdout and stderr apart, with many runs at once and no listener warnings', async () => {
    const results = join(work, 'results');
    const images = [...copies, `oci:${alt}`];
    const cmd = ['sh', '-c', 'grep ^ID= /etc/os-release; echo "err of $(hostname)" >&2; echo done'];
    const r = await runFlux(['matrix', '--json', '-j', String(images.length), '--network', 'none', '--results', results, images.join(','), '--', ...cmd], {
      store,
      timeoutMs: 120_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/Warning|internal error|\n\s+at /);
    // The runs' own output went to their files, not to the matrix's stdout.
    expect(r.stdout).not.toContain('ID=');
    const rows = JSON.parse(r.stdout) as JsonRow[];
    expect(rows).toHaveLength(images.length);
    const hostnames = new Set<string>();
    for (const row of rows) {
      expect(row.verdict).toBe('passed');
      const want = row.image === `oci:${alt}` ? 'ID=flux-alt' : 'ID=flux-busybox';
      expect(await readFile(row.stdoutPath!, 'utf8')).toBe(`${want}\ndone\n`);
      const err = await readFile(row.stderrPath!, 'utf8');
      expect(err).toMatch(/^err of [0-9a-f]+\n$/);
      hostnames.add(err);
    }
    // Every run had its own sandbox (its own random host name).
    expect(hostnames.size).toBe(images.length);
    expect(await readdir(join(store, 'runs')).catch(() => [])).toEqual([]);
  });

  it('a run that cannot start fails alone, with its one-sentence reason in its own stderr', async () => {
    const results = join(work, 'results-fail');
    const r = await runFlux(['matrix', '--json', '--network', 'none', '--results', results, `${copies[0]},${copies[1]}`, '--', 'no-such-command'], { store });
    expect(r.code).toBe(1);
    const rows = JSON.parse(r.stdout) as JsonRow[];
    expect(rows.map((x) => [x.verdict, x.exitCode])).toEqual([['failed', 127], ['failed', 127]]);
    for (const row of rows) {
      expect(await readFile(row.stderrPath!, 'utf8')).toBe('flux: no-such-command: executable file not found in $PATH. Check the command name, or the image\'s PATH.\n');
    }
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  });

  it('a refused run option fails every run with exit code 125 and says why', async () => {
    const r = await runFlux(['matrix', '--json', '--security-opt', 'bogus', copies[0]!, '--', 'true'], { store });
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stdout) as JsonRow[]).map((x) => [x.verdict, x.exitCode])).toEqual([['failed', 125]]);
    expect(r.stderr).toContain('flux: unsupported --security-opt "bogus".');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('flux run still passes a SIGTERM sent to flux on to the command', async () => {
    const u = await testUser();
    const app = await appDir();
    const script = 'trap "echo got-term; exit 5" TERM; echo started; while :; do sleep 0.1; done';
    const args = ['run', '--network', 'none', `oci:${busybox}`, '--', 'sh', '-c', script];
    const env = { HOME: u.home, PATH: '/usr/local/bin:/usr/bin:/bin', USER: u.name, LOGNAME: u.name, FLUX_STORE: store };
    const child = isRoot
      ? spawn('setpriv', [`--reuid=${u.uid}`, `--regid=${u.gid}`, '--init-groups', '--', process.execPath, join(app, 'bin/flux.js'), ...args], { env, cwd: app })
      : spawn(process.execPath, [join(app, 'bin/flux.js'), ...args], { env, cwd: app });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    const deadline = Date.now() + 30_000;
    while (!out.includes('started') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(out, err).toContain('started');
    child.kill('SIGTERM');
    expect(await exited, err).toBe(5);
    expect(out).toContain('got-term\n');
  });
});
