/**
 * `npm install -g` of the package `npm pack` makes, from a loopback npm registry holding flux's
 * dependencies: installed by root into one prefix and by the unprivileged test user into a prefix
 * of their own, the `flux` on PATH runs `flux run oci:…/fixtures/out/busybox -- true` (the image
 * shipped in the package) from any working directory as the test user, the helper is built during
 * the install, the code cache goes to the user's cache directory and nothing is written into the
 * installation. Without a C compiler the install step says so in one sentence.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNpmRegistry, type NpmRegistry } from '../helpers/npm-registry.js';
import { REPO_ROOT, USER_PATH, isRoot, removeStore, runAs, tempStore, testUser, type TestUser } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

requireTool('npm');
requireTool('cc');
requireTool('make');
requireTool('newuidmap');

let npmReg: NpmRegistry;
let work: string;
let tarball: string;
let user: TestUser;
const stores: string[] = [];

/** Every file under dir with its size and modification time: what an installation holds. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const p = join(e.parentPath, e.name);
    const s = await stat(p).catch(() => undefined);
    out.push(`${p} ${s?.size ?? '-'} ${s?.mtimeMs ?? '-'}`);
  }
  return out.sort();
}

/** zstd-napi compiles during the install: against the installed Node headers, not downloaded ones (as the README says for offline machines). */
const NPM_ENV = { npm_config_nodedir: '/usr' };

/** npm as root, asynchronously: the npm registry answering it lives in this process. */
function npmAsRoot(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { HOME: work, PATH: USER_PATH, LANG: 'C.UTF-8', ...NPM_ENV }, cwd: work });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 128, stdout, stderr }));
  });
}

/** npm install -g of the packed tarball into prefix, as `as` (root or the test user). */
async function install(as: 'root' | TestUser, prefix: string): Promise<{ code: number; stderr: string; stdout: string }> {
  const cache = as === 'root' ? join(work, 'root-npm-cache') : await userDir('user-npm-cache');
  const args = ['install', '-g', '--prefix', prefix, '--registry', npmReg.url, '--cache', cache, '--no-audit', '--no-fund', '--no-update-notifier', tarball];
  if (as === 'root') return npmAsRoot(args);
  return runAs(as, 'npm', args, { timeoutMs: 300_000, cwd: as.home, env: NPM_ENV });
}

/** `flux run` of the shipped busybox through PATH, as the test user, from cwd. */
async function runInstalled(prefix: string, cwd: string, cacheHome: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const store = await tempStore();
  stores.push(store);
  const image = `oci:${join(prefix, 'lib/node_modules/flux/fixtures/out/busybox')}`;
  return runAs(user, 'flux', ['run', '--network', 'none', image, '--', 'sh', '-c', 'echo hello from $(pwd)'], {
    store,
    cwd,
    env: { PATH: `${join(prefix, 'bin')}:${USER_PATH}`, XDG_CACHE_HOME: cacheHome },
    timeoutMs: 120_000,
  });
}

async function userDir(name: string): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  if (isRoot) execFileSync('chown', [`${user.uid}:${user.gid}`, dir]);
  return dir;
}

beforeAll(async () => {
  user = await testUser();
  npmReg = await startNpmRegistry();
  work = await mkdtemp(join(tmpdir(), 'flux-global-install-'));
  await chmod(work, 0o755);
  const packed = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: REPO_ROOT, encoding: 'utf8' })) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, packed[0]!.filename);
  await chmod(tarball, 0o644);
  expect(packed[0]!.files.map((f) => f.path)).toEqual(expect.arrayContaining(['scripts/build-helper.mjs', 'fixtures/out/busybox/index.json', 'native/main.c', 'native/plan.c', 'native/flux-helper.h']));
}, 300_000);

afterAll(async () => {
  await npmReg?.stop();
  for (const s of stores) await removeStore(s);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('npm install -g of the packed flux', () => {
  it.each(['root', 'user'] as const)('installed by %s, runs the shipped busybox from any directory as the test user', async (who) => {
    const prefix = who === 'root' ? join(work, 'root-prefix') : await userDir('user-prefix');
    const r = await install(who === 'root' ? 'root' : user, prefix);
    expect(r.stderr).not.toMatch(/npm error/);
    expect(r.code).toBe(0);
    const pkg = join(prefix, 'lib/node_modules/flux');
    // The install step built the helper here: its time is not npm's fixed 1985 one.
    expect((await stat(join(pkg, 'native/build/flux-helper'))).mtimeMs).toBeGreaterThan(Date.UTC(2000, 0, 1));
    if (who === 'root') execFileSync('chmod', ['-R', 'a+rX', prefix]);
    const before = await snapshot(pkg);
    // The build's record of koffi's native module names one inside this installation: the
    // installed flux loads its own, not the one of the tree the package was built in.
    const { native } = JSON.parse(await readFile(join(pkg, 'dist/koffi-native.json'), 'utf8')) as { native: string };
    expect((await stat(join(pkg, native))).isFile()).toBe(true);

    const cacheHome = await userDir(`${who}-cache-home`);
    for (const cwd of ['/', await userDir(`${who}-elsewhere`)]) {
      const run = await runInstalled(prefix, cwd, cacheHome);
      expect(run.stderr).toBe('');
      expect(run.stdout).toBe('hello from /\n');
      expect(run.code).toBe(0);
    }
    // Node itself reads an --env-file among a script's arguments and exits 9 when the file is
    // missing; the installed command passes flux's own arguments past Node's options.
    const missing = await runAs(user, 'flux', ['run', '--network', 'none', '--env-file', '/no/such/env-file', `oci:${join(pkg, 'fixtures/out/busybox')}`, '--', 'true'], {
      store: stores[stores.length - 1]!,
      env: { PATH: `${join(prefix, 'bin')}:${USER_PATH}`, XDG_CACHE_HOME: cacheHome },
      timeoutMs: 120_000,
    });
    expect(missing.stderr).toMatch(/^flux: cannot read the env file \/no\/such\/env-file: .*Check the path of --env-file\.\n$/);
    expect(missing.code).toBe(125);
    // The code cache is the user's, in their cache directory; the installation is untouched.
    const cached = await readdir(join(cacheHome, 'flux', 'code-cache'));
    expect(cached.some((f) => f.endsWith('.v8'))).toBe(true);
    expect(await snapshot(pkg)).toEqual(before);
  }, 600_000);
});

describe('the install step without a C compiler', () => {
  it('fails in one sentence naming the compiler when the package has no helper, and keeps a shipped one', async () => {
    const pkg = await mkdtemp(join(tmpdir(), 'flux-no-cc-'));
    try {
      await cp(join(REPO_ROOT, 'scripts/build-helper.mjs'), join(pkg, 'scripts/build-helper.mjs'));
      for (const f of await readdir(join(REPO_ROOT, 'native'))) {
        if (f.endsWith('.c') || f.endsWith('.h')) await cp(join(REPO_ROOT, 'native', f), join(pkg, 'native', f));
      }
      await cp(join(REPO_ROOT, 'native/Makefile'), join(pkg, 'native/Makefile'));
      const step = () => runAs('root', process.execPath, [join(pkg, 'scripts/build-helper.mjs')], { env: { CC: 'no-such-cc' }, cwd: pkg });
      const none = await step();
      expect(none.code).toBe(1);
      expect(none.stderr).toBe('flux: cannot build the sandbox helper: `no-such-cc` not found; install them (Debian: sudo apt-get install gcc make) and run `npm rebuild flux` (with -g for a global install).\n');
      await cp(join(REPO_ROOT, 'native/build/flux-helper'), join(pkg, 'native/build/flux-helper'));
      const kept = await step();
      expect(kept.code).toBe(0);
      expect(kept.stderr).toMatch(/^flux: `no-such-cc` not found, so the sandbox helper was not built on this machine and the one in the package is used; /);
      // With the compiler it builds.
      const built = await runAs('root', process.execPath, [join(pkg, 'scripts/build-helper.mjs')], { cwd: pkg, timeoutMs: 120_000 });
      expect(built.stderr).toBe('');
      expect(built.code).toBe(0);
    } finally {
      await rm(pkg, { recursive: true, force: true });
    }
  }, 180_000);
});
