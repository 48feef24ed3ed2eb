/**
 * `flux matrix` end to end, as the unprivileged test user, over the fixture distros pulled from a
 * real registry: verdicts, summary, results directory, JUnit, JSON, fail-fast, shards, and a layer
 * shared by two images fetched once.
 */
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { fixtureInfo, pushFixtures, type FixtureName, type FixtureSummary } from '../helpers/fixtures.js';
import { spawn } from 'node:child_process';
import { appDir, isRoot, removeStore, runFlux, tempStore, testUser, userWorkDir } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';
import { findAll, parseXml } from '../support/xml-parser.js';

const NAMES: FixtureName[] = ['busybox', 'distro-alt', 'debian'];
/** Passes where there is no /etc/debian_version; prints the distro ID and a line on stderr. */
const CHECK = ['sh', '-c', 'grep ^ID= /etc/os-release; echo "stderr of $(hostname)" >&2; test ! -e /etc/debian_version'];

interface JsonRow {
  image: string;
  digest: string | null;
  exitCode: number | null;
  durationMs: number;
  verdict: string;
  stdoutPath?: string;
  stderrPath?: string;
  error?: string;
}

const ready = requireTool('docker-registry') && requireTool('skopeo') && requireTool('newuidmap') && requireTool('debootstrap');

describe.skipIf(!ready)('flux matrix over the fixture distros', () => {
  let reg: Registry;
  let store: string;
  let work: string;
  const info = new Map<FixtureName, FixtureSummary>();
  let img: Record<FixtureName, string>;

  beforeAll(async () => {
    // A proxy in front of the registry records every request, so blob fetches can be counted.
    reg = await startRegistry({ intercept: () => false });
    await pushFixtures(reg, NAMES);
    for (const n of NAMES) info.set(n, await fixtureInfo(n));
    img = Object.fromEntries(NAMES.map((n) => [n, `${reg.host}/${n}:latest`])) as Record<FixtureName, string>;
    store = await tempStore();
    work = await userWorkDir('flux-matrix-');
  }, 900_000);

  afterAll(async () => {
    await reg?.stop();
    if (store) await removeStore(store);
    if (work) await rm(work, { recursive: true, force: true });
  });

  const blobGets = (digest: string): number =>
    reg.proxyRequests.filter((r) => r.method === 'GET' && r.url.includes('/blobs/') && r.url.endsWith(digest)).length;

  it('pulls what is missing (a shared layer once), runs everywhere, and reports per image', async () => {
    const results = join(work, 'results');
    const junit = join(work, 'report.xml');
    const r = await runFlux(['matrix', `${img.busybox},${img['distro-alt']}`, '--image', img.debian, '--results', results, '--junit', junit, '--', ...CHECK], {
      store,
      timeoutMs: 600_000,
    });
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    // The base layer shared by busybox and distro-alt was fetched once; every layer at most once.
    const shared = info.get('busybox')!.layers![0]!.digest;
    expect(info.get('distro-alt')!.layers!.map((l) => l.digest)).toContain(shared);
    expect(blobGets(shared)).toBe(1);
    for (const n of NAMES) for (const l of info.get(n)!.layers!) expect(blobGets(l.digest), `${n} ${l.digest}`).toBe(1);

    expect(r.code, r.stderr).toBe(1);

    // Summary table: one row per image, the resolved digest, exit code, verdict.
    const rows = r.stdout.split('\n');
    expect(rows[0]).toMatch(/^IMAGE\s+DIGEST\s+EXIT\s+DURATION\s+VERDICT$/);
    const row = (n: FixtureName): string => rows.find((l) => l.startsWith(`${img[n]} `)) ?? '';
    for (const n of NAMES) expect(row(n)).toContain(info.get(n)!.digest.slice(0, 'sha256:'.length + 12));
    expect(row('busybox')).toMatch(/\s0\s+\S+\s+passed$/);
    expect(row('distro-alt')).toMatch(/\s0\s+\S+\s+passed$/);
    expect(row('debian')).toMatch(/\s1\s+\S+\s+failed$/);
    expect(r.stdout).toContain('2 passed, 1 failed, 0 skipped');

    // Results directory: each run's stdout, stderr and exit code.
    const dirs = (await readdir(results)).sort();
    expect(dirs).toHaveLength(4); // three images + results.json
    const dirOf = (n: FixtureName): string => join(results, `${img[n]}`.replace(/[^A-Za-z0-9._-]+/g, '_'));
    expect(await readFile(join(dirOf('busybox'), 'stdout'), 'utf8')).toBe('ID=flux-busybox\n');
    expect(await readFile(join(dirOf('distro-alt'), 'stdout'), 'utf8')).toBe('ID=flux-alt\n');
    expect(await readFile(join(dirOf('debian'), 'stdout'), 'utf8')).toBe('ID=debian\n');
    expect(await readFile(join(dirOf('debian'), 'stderr'), 'utf8')).toMatch(/^stderr of /);
    expect(await readFile(join(dirOf('debian'), 'exit-code'), 'utf8')).toBe('1\n');
    expect(await readFile(join(dirOf('busybox'), 'exit-code'), 'utf8')).toBe('0\n');
    const saved = JSON.parse(await readFile(join(results, 'results.json'), 'utf8')) as JsonRow[];
    expect(saved.map((s) => s.verdict)).toEqual(['passed', 'passed', 'failed']);

    // JUnit: one suite, one testcase per image, the failure marked, output kept.
    const root = parseXml(await readFile(junit, 'utf8'));
    const suites = findAll(root, 'testsuite');
    expect(suites).toHaveLength(1);
    expect(suites[0]!.attrs).toMatchObject({ name: 'flux matrix', tests: '3', failures: '1' });
    const cases = findAll(root, 'testcase');
    expect(cases.map((c) => c.attrs.name)).toEqual([img.busybox, img['distro-alt'], img.debian]);
    const failed = cases.filter((c) => findAll(c, 'failure').length > 0);
    expect(failed.map((c) => c.attrs.name)).toEqual([img.debian]);
    expect(findAll(failed[0]!, 'failure')[0]!.attrs.message).toBe('exit code 1');
    expect(findAll(cases[1]!, 'system-out')[0]!.text).toBe('ID=flux-alt\n');
    expect(findAll(cases[2]!, 'system-err')[0]!.text).toMatch(/^stderr of /);
  }, 600_000);

  it('runs from the store without a request and prints stable JSON', async () => {
    const before = reg.proxyRequests.length;
    const r = await runFlux(['matrix', '--json', img.busybox, img['distro-alt'], '--', 'true'], { store });
    expect(r.code, r.stderr).toBe(0);
    expect(reg.proxyRequests.length).toBe(before);
    const rows = JSON.parse(r.stdout) as JsonRow[];
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ image: img.busybox, digest: info.get('busybox')!.digest, exitCode: 0, verdict: 'passed' });
    expect(rows[1]).toMatchObject({ image: img['distro-alt'], digest: info.get('distro-alt')!.digest, exitCode: 0, verdict: 'passed' });
    expect(typeof rows[0]!.durationMs).toBe('number');
  });

  it('--fail-fast stops the runs in progress and skips the rest', async () => {
    const cmd = ['sh', '-c', 'if test -e /etc/debian_version; then exit 3; fi; sleep 40'];
    const r = await runFlux(['matrix', '--json', '--fail-fast', '-j', '2', `${img.busybox},${img.debian},${img['distro-alt']}`, '--', ...cmd], {
      store,
      timeoutMs: 30_000,
    });
    expect(r.timedOut).toBe(false);
    expect(r.code, r.stderr).toBe(1);
    const rows = JSON.parse(r.stdout) as JsonRow[];
    expect(rows.map((x) => [x.image, x.verdict])).toEqual([
      [img.busybox, 'skipped'],
      [img.debian, 'failed'],
      [img['distro-alt'], 'skipped'],
    ]);
    expect(rows[1]!.exitCode).toBe(3);
    expect(rows[2]!.exitCode).toBeNull();
  });

  it('--shard K/N: the shards together run each image exactly once, each in the given order, with reports that merge', async () => {
    const all = NAMES.map((n) => img[n]);
    for (const total of [1, 2, 3]) {
      const seen: string[] = [];
      for (let k = 1; k <= total; k++) {
        const junit = join(work, `shard-${k}-${total}.xml`);
        const r = await runFlux(['matrix', '--json', '--junit', junit, '--shard', `${k}/${total}`, all.join(','), '--', 'true'], { store });
        expect(r.code, r.stderr).toBe(0);
        const mine = (JSON.parse(r.stdout) as JsonRow[]).map((x) => x.image);
        expect(mine).toEqual(all.filter((i) => mine.includes(i)));
        seen.push(...mine);
        const root = parseXml(await readFile(junit, 'utf8'));
        expect(findAll(root, 'testsuite')[0]!.attrs.name).toBe(`flux matrix shard ${k}/${total}`);
        expect(findAll(root, 'testcase').map((c) => [c.attrs.classname, c.attrs.name])).toEqual(mine.map((i) => [`flux matrix shard ${k}/${total}`, i]));
      }
      expect([...seen].sort()).toEqual([...all].sort());
    }
  });

  it('--output prefix streams each line as [image] line; a bad image fails alone with one sentence', async () => {
    const missing = `${reg.host}/no-such-image:latest`;
    const r = await runFlux(['matrix', '--output', 'prefix', img.busybox, missing, '--', 'echo', 'hello'], { store });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`[${img.busybox}] hello\n`);
    const row = r.stdout.split('\n').find((l) => l.startsWith(`${missing} `)) ?? '';
    expect(row).toMatch(/failed$/);
    expect(r.stdout.split('\n').find((l) => l.startsWith(`${img.busybox} `))).toMatch(/passed$/);
    expect(r.stderr).toContain(`[${missing}] failed`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('Ctrl-C reaches every run, the matrix waits for them, then reports them interrupted and exits 130', async () => {
    const u = await testUser();
    const app = await appDir();
    const script = 'trap "echo got-int; exit 7" INT; echo started; while :; do sleep 0.1; done';
    const args = ['matrix', '--output', 'prefix', `${img.busybox},${img['distro-alt']}`, '--', 'sh', '-c', script];
    const env = { HOME: u.home, PATH: '/usr/local/bin:/usr/bin:/bin', USER: u.name, LOGNAME: u.name, FLUX_STORE: store };
    // The test runner itself, as the user: so the signal goes to flux and nothing in between.
    const child = isRoot
      ? spawn('setpriv', [`--reuid=${u.uid}`, `--regid=${u.gid}`, '--init-groups', '--', process.execPath, join(app, 'bin/flux.js'), ...args], { env, cwd: app })
      : spawn(process.execPath, [join(app, 'bin/flux.js'), ...args], { env, cwd: app });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    const deadline = Date.now() + 30_000;
    while ((out.match(/\] started$/gm) ?? []).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(out, err).toContain(`[${img['distro-alt']}] started`);
    child.kill('SIGINT');
    const code = await exited;
    expect(code, err).toBe(130);
    expect(out).toContain(`[${img.busybox}] got-int\n`);
    expect(out).toContain(`[${img['distro-alt']}] got-int\n`);
    expect(out).toMatch(/0 passed, 0 failed, 0 skipped, 2 interrupted/);
    expect(err).not.toMatch(/internal error|\n\s+at /);
    // Each run cleaned up after itself before the matrix exited.
    expect(await readdir(join(store, 'runs')).catch(() => [])).toEqual([]);
  });
});
