/**
 * The unprivileged user flux is tested as, and running the built `flux` as that user.
 *
 * As root: `fluxtest` (with /etc/subuid and /etc/subgid ranges) and `fluxnosub` (without any,
 * for single-id maps) are created on first use, and /dev/fuse and /dev/net/tun are opened to
 * everyone (this machine has no udev to do it). As a plain user: that user is the test user.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { constants, tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withLock } from './lock.js';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** true when the process was killed for exceeding timeoutMs (code is then 124) */
  timedOut: boolean;
}

export interface RunOptions {
  /** run as the test user; default true when the tests run as root */
  asUser?: boolean;
  /** which test user when asUser: 'fluxtest' (default) or 'fluxnosub' */
  user?: string;
  /** extra environment on top of the clean HOME/PATH/USER/LOGNAME one */
  env?: Record<string, string>;
  /** written to stdin, which is then closed */
  input?: string;
  /** default 50 s; the process group is killed after it */
  timeoutMs?: number;
  /** FLUX_STORE for this run */
  store?: string;
  /** working directory; default the app dir, so `oci:fixtures/out/busybox` resolves */
  cwd?: string;
  /** run under a pseudo-terminal (util-linux `script`); stdout then holds the terminal's output */
  tty?: boolean;
  /** called with all of stderr so far each time more arrives, to act on a line while flux runs */
  onStderr?: (stderr: string) => void;
}

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const isRoot = process.getuid?.() === 0;
export const TEST_USER = 'fluxtest';
export const NOSUB_USER = 'fluxnosub';
export const USER_PATH = '/usr/local/bin:/usr/bin:/bin';
const LOCKS = '/tmp/flux-test-locks';
const APP_COPY = '/tmp/flux-test-app';
const STORES = '/tmp/flux-test-stores';

function lookup(name: string): TestUser | null {
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const f = r.stdout.trim().split(':');
  return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? `/home/${name}` };
}

function hasRange(file: string, name: string, uid: number): boolean {
  try {
    const lines = execFileSync('cat', [file], { encoding: 'utf8' }).split('\n');
    return lines.some((l) => {
      const [who, , count] = l.split(':');
      return (who === name || who === String(uid)) && Number(count) >= 65536;
    });
  } catch {
    return false;
  }
}

async function ensureUsers(): Promise<void> {
  await mkdir(LOCKS, { recursive: true, mode: 0o1777 });
  await withLock(`${LOCKS}/users`, async () => {
    if (!lookup(TEST_USER)) execFileSync('useradd', ['-m', '-s', '/bin/sh', TEST_USER], { stdio: 'pipe' });
    const u = lookup(TEST_USER)!;
    if (!hasRange('/etc/subuid', u.name, u.uid) || !hasRange('/etc/subgid', u.name, u.uid)) {
      // Pick a range past every one already handed out so it never overlaps another user's.
      const start = nextFreeRange();
      execFileSync('usermod', ['--add-subuids', `${start}-${start + 65535}`, '--add-subgids', `${start}-${start + 65535}`, u.name], { stdio: 'pipe' });
    }
    if (!lookup(NOSUB_USER)) {
      execFileSync('useradd', ['-m', '-s', '/bin/sh', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', NOSUB_USER], { stdio: 'pipe' });
    }
    for (const dev of ['/dev/fuse', '/dev/net/tun']) {
      if (existsSync(dev) && (statSync(dev).mode & 0o666) !== 0o666) await chmod(dev, 0o666);
    }
  });
}

function nextFreeRange(): number {
  let end = 100000;
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    const text = spawnSync('cat', [file], { encoding: 'utf8' }).stdout ?? '';
    for (const l of text.split('\n')) {
      const [, s, c] = l.split(':');
      if (s && c) end = Math.max(end, Number(s) + Number(c));
    }
  }
  return end;
}

let usersReady: Promise<void> | undefined;

/** The unprivileged test user (`fluxtest`, or `fluxnosub` which has no subordinate ids). */
export async function testUser(name: string = TEST_USER): Promise<TestUser> {
  if (!isRoot) {
    const me = userInfo();
    return { name: me.username, uid: me.uid, gid: me.gid, home: me.homedir };
  }
  usersReady ??= ensureUsers();
  await usersReady;
  const u = lookup(name);
  if (!u) throw new Error(`no such user ${name}`);
  return u;
}

function userCanRead(user: string, path: string): boolean {
  return spawnSync('runuser', ['-u', user, '--', 'test', '-r', path], { stdio: 'ignore' }).status === 0;
}

/** Newest mtime under the parts of the checkout that change between builds. */
async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  const st = await lstat(dir).catch(() => null);
  if (!st) return 0;
  newest = st.mtimeMs;
  if (!st.isDirectory()) return newest;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? await newestMtime(p) : (await lstat(p)).mtimeMs);
  }
  return newest;
}

const COPIED = ['package.json', 'bin', 'dist', 'native/build', 'node_modules'];

function copyTree(src: string, dest: string, worldReadable: boolean): void {
  // Hard links are instant and share inodes, so they only help when the files are readable.
  const linked = worldReadable && spawnSync('cp', ['-al', src, dest], { stdio: 'ignore' }).status === 0;
  if (!linked) {
    execFileSync('cp', ['-a', src, dest]);
    if (!worldReadable) execFileSync('chmod', ['-R', 'a+rX', dest]);
  }
}

/** Replace only the fixtures whose summary changed, so running flux processes keep theirs. */
async function syncFixtures(worldReadable: boolean): Promise<void> {
  const src = join(REPO_ROOT, 'fixtures/out');
  const dest = join(APP_COPY, 'fixtures/out');
  if (!existsSync(src)) return;
  await mkdir(dest, { recursive: true, mode: 0o755 });
  await chmod(join(APP_COPY, 'fixtures'), 0o755);
  await chmod(dest, 0o755);
  for (const f of await readdir(src)) {
    if (!f.endsWith('.json')) continue;
    const name = f.slice(0, -'.json'.length);
    const summary = await readFile(join(src, f), 'utf8');
    if (!existsSync(join(src, name)) || (await readFile(join(dest, f), 'utf8').catch(() => '')) === summary) continue;
    const tmp = join(dest, `.${name}.tmp-${process.pid}`);
    await rm(tmp, { recursive: true, force: true });
    copyTree(join(src, name), tmp, worldReadable);
    await rm(join(dest, name), { recursive: true, force: true });
    await rename(tmp, join(dest, name));
    await writeFile(join(dest, f), summary, { mode: 0o644 });
  }
}

async function refreshCopy(): Promise<void> {
  const parts = ['dist', 'native/build', 'bin', 'package.json'];
  const stamp = String(Math.max(...(await Promise.all(parts.map((p) => newestMtime(join(REPO_ROOT, p)))))));
  const worldReadable = (statSync(join(REPO_ROOT, 'package.json')).mode & 0o004) !== 0;
  await mkdir(LOCKS, { recursive: true, mode: 0o1777 });
  await withLock(`${LOCKS}/app-copy`, async () => {
    if ((await readFile(join(APP_COPY, '.stamp'), 'utf8').catch(() => '')) !== stamp) {
      const fresh = `${APP_COPY}.new-${process.pid}`;
      await rm(fresh, { recursive: true, force: true });
      await mkdir(fresh, { mode: 0o755 });
      for (const rel of COPIED) {
        const src = join(REPO_ROOT, rel);
        if (!existsSync(src)) continue;
        await mkdir(dirname(join(fresh, rel)), { recursive: true, mode: 0o755 });
        copyTree(src, join(fresh, rel), worldReadable);
      }
      execFileSync('chmod', ['a+rx', fresh]);
      await writeFile(join(fresh, '.stamp'), stamp);
      const old = `${APP_COPY}.old-${process.pid}`;
      await rename(APP_COPY, old).catch(() => undefined);
      await rename(fresh, APP_COPY);
      await rm(old, { recursive: true, force: true });
    }
    await syncFixtures(worldReadable);
  });
}

let appDirResolved: Promise<string> | undefined;

/**
 * The directory holding bin/flux.js as the test user sees it: the checkout itself when that
 * user can read it, else a copy under /tmp/flux-test-app refreshed when dist/ changes.
 */
export async function appDir(): Promise<string> {
  if (!isRoot) return REPO_ROOT;
  appDirResolved ??= (async () => {
    const user = (await testUser()).name;
    if (userCanRead(user, join(REPO_ROOT, 'package.json'))) return REPO_ROOT;
    return APP_COPY;
  })();
  const dir = await appDirResolved;
  if (dir === APP_COPY) await refreshCopy();
  return dir;
}

/** Absolute path of bin/flux.js as the test user sees it. */
export async function fluxBin(): Promise<string> {
  return join(await appDir(), 'bin/flux.js');
}

/** Path of a checkout-relative file (e.g. 'fixtures/out/busybox') as the test user sees it. */
export async function userPath(rel: string): Promise<string> {
  return join(await appDir(), rel);
}

function cleanEnv(user: TestUser, extra: Record<string, string> | undefined): Record<string, string> {
  return { HOME: user.home, PATH: USER_PATH, USER: user.name, LOGNAME: user.name, LANG: 'C.UTF-8', ...extra };
}

interface SpawnSpec {
  user: TestUser;
  asUser: boolean;
  cmd: string;
  args: string[];
  env: Record<string, string>;
  input?: string | undefined;
  timeoutMs: number;
  cwd: string;
  tty?: boolean | undefined;
  onStderr?: ((stderr: string) => void) | undefined;
}

const shellQuote = (a: string) => `'${a.replaceAll("'", `'\\''`)}'`;

async function run(spec: SpawnSpec): Promise<RunResult> {
  const envArgs = Object.entries(spec.env).map(([k, v]) => `${k}=${v}`);
  // script(1) gives the command a terminal and returns its exit status (-e).
  const inner = spec.tty
    ? ['script', '-qefc', [spec.cmd, ...spec.args].map(shellQuote).join(' '), '/dev/null']
    : [spec.cmd, ...spec.args];
  const [file, argv] = spec.asUser
    ? ['runuser', ['-u', spec.user.name, '--', 'env', '-i', ...envArgs, ...inner]]
    : ['env', ['-i', ...envArgs, ...inner]];
  return await new Promise((resolvePromise, reject) => {
    const child = spawn(file, argv, { cwd: spec.cwd, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      spec.onStderr?.(stderr);
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(spec.input ?? '');
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, spec.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const sigNum = signal ? (constants.signals[signal] ?? 0) : 0;
      resolvePromise({ code: timedOut ? 124 : code ?? 128 + sigNum, stdout, stderr, timedOut });
    });
  });
}

async function resolveUser(user: string | TestUser | undefined): Promise<TestUser> {
  if (user && typeof user === 'object') return user;
  return await testUser(user ?? TEST_USER);
}

/** Run the built flux (`bin/flux.js`) as the test user, with a clean environment. */
export async function runFlux(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const asUser = opts.asUser ?? isRoot;
  const user = asUser ? await testUser(opts.user ?? TEST_USER) : { name: userInfo().username, uid: userInfo().uid, gid: userInfo().gid, home: userInfo().homedir };
  const dir = asUser ? await appDir() : REPO_ROOT;
  const env = cleanEnv(user, { ...(opts.store ? { FLUX_STORE: opts.store } : {}), ...opts.env });
  // Paths into an unreadable checkout (e.g. `oci:${fixture.dir}`) point at the user's copy instead.
  const userArgs = dir === REPO_ROOT ? args : args.map((a) => a.split(`${REPO_ROOT}/`).join(`${dir}/`));
  return await run({
    user, asUser, cmd: process.execPath, args: [join(dir, 'bin/flux.js'), ...userArgs], env,
    input: opts.input, timeoutMs: opts.timeoutMs ?? 50_000, cwd: opts.cwd ?? dir, tty: opts.tty, onStderr: opts.onStderr,
  });
}

/** Run any command as a user (as root via runuser; as a plain user only as oneself). */
export async function runAs(
  user: string | TestUser,
  cmd: string,
  args: string[] = [],
  opts: Omit<RunOptions, 'asUser' | 'user'> = {},
): Promise<RunResult> {
  const u = await resolveUser(user);
  const asUser = isRoot && u.uid !== 0;
  const env = cleanEnv(u, { ...(opts.store ? { FLUX_STORE: opts.store } : {}), ...opts.env });
  return await run({ user: u, asUser, cmd, args, env, input: opts.input, timeoutMs: opts.timeoutMs ?? 50_000, cwd: opts.cwd ?? (asUser ? '/' : process.cwd()), tty: opts.tty, onStderr: opts.onStderr });
}

/** A fresh temp directory (reports, results) the test user can write and everyone can read. */
export async function userWorkDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  if (isRoot) {
    const u = await testUser();
    await chown(dir, u.uid, u.gid);
  }
  await chmod(dir, 0o755);
  return dir;
}

/** A fresh XDG_RUNTIME_DIR for the test user (0700, theirs): containers' state stays apart per test file. */
export async function userRuntimeDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join('/tmp', prefix));
  if (isRoot) {
    const u = await testUser();
    await chown(dir, u.uid, u.gid);
  }
  await chmod(dir, 0o700);
  return dir;
}

const stores = new Set<string>();

/** A fresh, empty FLUX_STORE directory owned by the user (default: the test user). */
export async function tempStore(owner?: string | TestUser): Promise<string> {
  await mkdir(STORES, { recursive: true, mode: 0o711 });
  await chmod(STORES, 0o711);
  const dir = await mkdtemp(join(STORES, 'store-'));
  if (isRoot) {
    const u = await resolveUser(owner);
    await chown(dir, u.uid, u.gid);
  }
  await chmod(dir, 0o700);
  stores.add(dir);
  return dir;
}

/** An empty XDG_CACHE_HOME (for flux's learned code cache) that the test user may write. */
export async function codeCacheHome(): Promise<string> {
  const cache = await mkdtemp(join(tmpdir(), 'flux-code-cache-'));
  await chmod(cache, 0o755);
  if (isRoot) {
    const u = await testUser();
    await chown(cache, u.uid, u.gid);
  }
  return cache;
}

/** Remove a store as root: rootless runs leave files owned by subordinate ids in it. */
export async function removeStore(dir: string): Promise<void> {
  stores.delete(dir);
  if (!dir.startsWith(`${STORES}/`)) throw new Error(`refusing to remove ${dir}: not a temp store`);
  const r = spawnSync('rm', ['-rf', '--one-file-system', dir], { stdio: 'ignore' });
  if (r.status !== 0 && isRoot === false) {
    // A plain user cannot delete what its subordinate ids own; let that user's namespace do it.
    spawnSync('unshare', ['-r', 'rm', '-rf', dir], { stdio: 'ignore' });
  }
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
}

process.on('exit', () => {
  for (const dir of stores) spawnSync('rm', ['-rf', '--one-file-system', dir], { stdio: 'ignore' });
});
