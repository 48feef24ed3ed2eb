/**
 * Set-up as root on a fresh machine: the tools, the unprivileged user, the devices a machine
 * without udev leaves closed, a copy of flux that user can read, a local registry holding the
 * fixture images, and podman configured the fair way (runc, cgroupfs, overlay).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { has, log } from './proc.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const isRoot = process.getuid?.() === 0;
export const BENCH_USER = process.env.FLUX_BENCH_USER ?? 'fluxtest';

/** command → Debian package that provides it. */
const TOOLS = {
  podman: 'podman', runc: 'runc', bwrap: 'bubblewrap', hyperfine: 'hyperfine', skopeo: 'skopeo',
  'docker-registry': 'docker-registry', slirp4netns: 'slirp4netns', newuidmap: 'uidmap', unshare: 'util-linux',
};

export function ensureTools() {
  const missing = Object.entries(TOOLS).filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg);
  if (!existsSync('/usr/bin/time')) missing.push('time');
  if (!missing.length) return;
  if (!isRoot) {
    log(`missing ${missing.join(', ')}: install them (apt-get install -y ${missing.join(' ')}); the figures that need them are skipped`);
    return;
  }
  log(`installing ${missing.join(' ')}`);
  const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) log('apt-get could not install everything; the figures that need the missing tools are skipped');
}

function lookup(name) {
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const f = r.stdout.trim().split(':');
  return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] };
}

function hasRange(file, u) {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  return text.split('\n').some((l) => {
    const [who, , count] = l.split(':');
    return (who === u.name || who === String(u.uid)) && Number(count) >= 65536;
  });
}

function nextFreeRange() {
  let end = 100000;
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    for (const l of (existsSync(file) ? readFileSync(file, 'utf8') : '').split('\n')) {
      const [, s, c] = l.split(':');
      if (s && c) end = Math.max(end, Number(s) + Number(c));
    }
  }
  return end;
}

/** The user the rootless figures run as (root: created when missing; else oneself). */
export function ensureUser() {
  if (!isRoot) {
    const me = { name: process.env.USER ?? String(process.getuid()), uid: process.getuid(), gid: process.getgid(), home: process.env.HOME };
    return me;
  }
  if (!lookup(BENCH_USER)) execFileSync('useradd', ['-m', '-s', '/bin/sh', BENCH_USER], { stdio: 'pipe' });
  const u = lookup(BENCH_USER);
  if (!hasRange('/etc/subuid', u) || !hasRange('/etc/subgid', u)) {
    const start = nextFreeRange();
    execFileSync('usermod', ['--add-subuids', `${start}-${start + 65535}`, '--add-subgids', `${start}-${start + 65535}`, u.name], { stdio: 'pipe' });
  }
  for (const dev of ['/dev/fuse', '/dev/net/tun']) {
    if (existsSync(dev) && (statSync(dev).mode & 0o666) !== 0o666) chmodSync(dev, 0o666);
  }
  return u;
}

/** Build flux when the checkout has not been built yet. */
export function ensureBuilt() {
  if (existsSync(join(ROOT, 'dist/src/cli/main.js')) && existsSync(join(ROOT, 'native/build'))) return;
  log('building flux (npm run build)');
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Build the fixture images (debian is optional: it needs debootstrap and a mirror the first time). */
export function ensureFixtures(names) {
  const out = join(ROOT, 'fixtures/out');
  const built = {};
  for (const name of names) {
    if (!existsSync(join(out, `${name}.json`))) {
      const r = spawnSync(process.execPath, [join(ROOT, 'fixtures/build.mjs'), name], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 1_200_000 });
      if (r.status !== 0) {
        log(`fixture ${name} could not be built; its figures are skipped (${(r.stderr ?? '').trim().split('\n').pop()})`);
        continue;
      }
    }
    built[name] = JSON.parse(readFileSync(join(out, `${name}.json`), 'utf8'));
  }
  return { dir: out, fixtures: built };
}

function userCanRead(user, path) {
  if (!isRoot) return true;
  return spawnSync('runuser', ['-u', user, '--', 'test', '-r', path], { stdio: 'ignore' }).status === 0;
}

/** The directory holding bin/flux.js and bench/ as the user sees it: the checkout, or a readable copy. */
export function appDirFor(user) {
  if (userCanRead(user.name, join(ROOT, 'package.json')) && userCanRead(user.name, join(ROOT, 'bench/worker.js'))) return ROOT;
  const copy = '/tmp/flux-bench-app';
  log(`${user.name} cannot read ${ROOT}: using a copy in ${copy}`);
  rmSync(copy, { recursive: true, force: true });
  mkdirSync(copy, { mode: 0o755 });
  for (const rel of ['package.json', 'bin', 'dist', 'native/build', 'node_modules', 'bench']) {
    if (existsSync(join(ROOT, rel))) cpSync(join(ROOT, rel), join(copy, rel), { recursive: true, verbatimSymlinks: true });
  }
  execFileSync('chmod', ['-R', 'a+rX', copy]);
  return copy;
}

/** Scratch space owned by the user, on the same file system for every tool. */
export function makeWorkDir(user) {
  const base = mkdtempSync(join(process.env.FLUX_BENCH_DIR ?? '/var/tmp', 'flux-bench-'));
  chmodSync(base, 0o700);
  if (isRoot) chownSync(base, user.uid, user.gid);
  return base;
}

export function writePodmanConfig(work, user, registryHost) {
  const dir = join(work, 'podman');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'containers.conf'), '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n');
  // Without driver = "overlay" rootless podman may fall back to vfs, a full copy per layer.
  writeFileSync(join(dir, 'storage.conf'), `[storage]\ndriver = "overlay"\ngraphroot = "${dir}/graph"\nrunroot = "${dir}/run"\n`);
  writeFileSync(join(dir, 'registries.conf'), `[[registry]]\nlocation = "${registryHost}"\ninsecure = true\n`);
  if (isRoot) execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, dir]);
  return dir;
}

function freePort() {
  return new Promise((res, rej) => {
    const srv = net.createServer();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/** docker-registry on a free loopback port with a temp storage dir. */
export async function startRegistry() {
  const dir = mkdtempSync(join(tmpdir(), 'flux-bench-registry-'));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const cfg = join(dir, 'config.yml');
    writeFileSync(cfg, ['version: 0.1', 'log:', '  level: error', '  accesslog:', '    disabled: true', 'storage:', '  filesystem:', `    rootdirectory: ${dir}/storage`, 'http:', `  addr: 127.0.0.1:${port}`, ''].join('\n'));
    const child = spawn('docker-registry', ['serve', cfg], { stdio: 'ignore', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    const url = `http://127.0.0.1:${port}/v2/`;
    for (let i = 0; i < 200 && child.exitCode === null; i++) {
      try {
        const r = await fetch(url);
        await r.arrayBuffer();
        if (r.status === 200) {
          return {
            host: `127.0.0.1:${port}`,
            stop: async () => {
              child.kill('SIGTERM');
              await new Promise((r2) => (child.exitCode !== null ? r2() : child.once('exit', r2)));
              rmSync(dir, { recursive: true, force: true });
            },
          };
        }
      } catch {
        /* not listening yet */
      }
      await new Promise((r2) => setTimeout(r2, 50));
    }
    if (child.exitCode === null) child.kill('SIGKILL');
    if (attempt >= 3) throw new Error('docker-registry did not start');
  }
}

/** skopeo copy of the OCI layouts, digests kept, as the test harness pushes them. */
export function pushFixtures(host, fixturesDir, names) {
  for (const name of names) {
    execFileSync('skopeo', ['--insecure-policy', 'copy', '--all', '--preserve-digests', '--retry-times', '2', '--dest-tls-verify=false',
      `oci:${join(fixturesDir, name)}:latest`, `docker://${host}/${name}:latest`], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
  }
}
