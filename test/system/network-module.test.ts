/**
 * The network modes driven directly, as the unprivileged test user, against a user+net namespace
 * made with `unshare` (the state the run supervisor is in when it calls attach()). Everything
 * listens on 127.0.0.1 or inside namespaces these tests made.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { mkdtempSync, writeFileSync, chmodSync, readdirSync, existsSync, symlinkSync, readFileSync, rmSync, chownSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDir, runAs, testUser, USER_PATH, type TestUser } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

const tempDirs: string[] = [];
/** A temp dir removed after the file's tests. */
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

const DRIVER = `
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const [app, reqJson] = process.argv.slice(2);
const { createNetwork } = await import(app + '/dist/src/sandbox/network.js');
const req = JSON.parse(reqJson);
const ns = spawn('unshare', ['--user', '--map-root-user', '--net', 'sleep', '120'], { stdio: 'ignore' });
// unshare execs sleep only once the namespaces and the id map are made: attach after that.
while (comm(ns.pid) !== 'sleep') {
  if (ns.exitCode !== null) throw new Error('unshare exited before making the namespace');
  await new Promise((r) => setTimeout(r, 10));
}
let net;
try {
  net = await createNetwork(req);
  await net.attach(ns.pid);
  console.log(JSON.stringify({ ok: true, driverPid: process.pid, pid: ns.pid, published: net.published(), resolvConf: net.resolvConf, hosts: net.hosts }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, pid: ns.pid, code: err.code, message: err.message, hint: err.hint }));
  await net?.detach();
  ns.kill('SIGKILL');
  process.exit(0);
}
const rl = createInterface({ input: process.stdin });
rl.on('close', async () => {
  await net.detach();
  await net.detach();
  ns.kill('SIGKILL');
  console.log(JSON.stringify({ detached: true }));
});

function comm(pid) {
  try {
    return readFileSync('/proc/' + pid + '/comm', 'utf8').trim();
  } catch {
    return '';
  }
}
`;

interface Attached {
  ok: boolean;
  pid: number;
  driverPid?: number;
  published?: { hostIp: string; hostPort: number; containerPort: number; protocol: string }[];
  resolvConf?: string;
  hosts?: string;
  code?: string;
  message?: string;
  hint?: string;
  child: ChildProcessWithoutNullStreams;
  lines: string[];
}

let user: TestUser;
let app: string;
let driverPath: string;
let runtime: string;
let xdg: string;
const ready = requireTool('slirp4netns') && requireTool('unshare') && requireTool('nsenter') && requireTool('busybox');

beforeAll(async () => {
  user = await testUser();
  app = await appDir();
  const dir = tempDir('flux-net-driver-');
  chmodSync(dir, 0o755);
  driverPath = join(dir, 'driver.mjs');
  writeFileSync(driverPath, DRIVER, { mode: 0o644 });
  // A runtime dir of these tests' own, so sockets and helper processes of other test files
  // running at the same time as the same user are not counted.
  xdg = tempDir('flux-net-rt-');
  chownSync(xdg, user.uid, user.gid);
  chmodSync(xdg, 0o700);
  runtime = join(xdg, 'flux');
});

function attach(req: object, wrap: string[] = [], path = USER_PATH): Promise<Attached> {
  const child = spawn('runuser', ['-u', user.name, '--', ...wrap, 'env', '-i', `PATH=${path}`, `HOME=${user.home}`, `XDG_RUNTIME_DIR=${xdg}`, process.execPath, driverPath, app, JSON.stringify(req)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let buf = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        if (lines.length === 1) resolve({ ...(JSON.parse(line) as object), child, lines } as Attached);
      }
    });
    child.once('close', () => {
      if (lines.length === 0) reject(new Error(`driver died: ${stderr}`));
    });
  });
}

async function release(a: Attached): Promise<void> {
  const closed = new Promise<void>((r) => a.child.once('close', () => r()));
  a.child.stdin.end();
  await closed;
  expect(a.lines.at(-1)).toContain('detached');
}

function inside(a: Attached, args: string[], timeoutMs = 20_000) {
  return runAs(user, 'nsenter', ['-t', String(a.pid), '-U', '-n', '--preserve-credentials', '--', ...args], { timeoutMs });
}

/**
 * A server started as the test user in the namespace, and stop() to end it: runuser stays its
 * parent, so the whole process group it leads is killed, not runuser alone.
 */
function serveInside(a: Attached, args: string[]): { stop(): Promise<void> } {
  const child = spawn('runuser', ['-u', user.name, '--', 'nsenter', '-t', String(a.pid), '-U', '-n', '--preserve-credentials', '--', ...args], { stdio: 'ignore', detached: true });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    async stop() {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      await exited;
    },
  };
}

/** Live (not zombie) processes whose command name matches and whose arguments name our runtime dir. */
function liveProcesses(name: RegExp): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const m = /^\d+ \((.*)\) (\S)/.exec(stat);
      if (!m || m[2] === 'Z' || !name.test(m[1] ?? '')) continue;
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(xdg)) found.push(`${pid} ${m[1]}`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

function slirpProcesses(): string[] {
  return liveProcesses(/^slirp4netns$/);
}

function sockets(): string[] {
  if (!existsSync(runtime)) return [];
  return readdirSync(runtime).filter((f) => f.startsWith('slirp4netns-') || f.startsWith('pasta-'));
}

/**
 * How many times a test looks again, 100 ms apart, for what it waits on (a page, a reply, a
 * process gone): it stops at the first success, so the bound only decides when to give up on a
 * machine whose other work slows everything down.
 */
const POLLS = 400;

let server: Server;
let serverPort: number;

beforeAll(async () => {
  server = createServer((_req, res) => res.end('hello from the host\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  serverPort = (server.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

async function freePort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write('GET / HTTP/1.0\r\nHost: x\r\n\r\n'));
    sock.on('data', (d: string) => (data += d));
    sock.on('end', () => resolve(data));
    sock.on('error', reject);
    sock.setTimeout(10_000, () => sock.destroy(new Error('timeout')));
  });
}

/** A UDP echo server (perl-base is on the host and in Debian images; busybox nc has no -u). */
export const UDP_ECHO = 'use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalPort => $ARGV[0], Proto => "udp") or die; while ($s->recv(my $m, 2000)) { $s->send("echo:$m") }';

async function udpExchange(port: number, text: string): Promise<string> {
  const sock = createSocket('udp4');
  try {
    return await new Promise<string>((resolve, reject) => {
      let tries = 0;
      let timer: NodeJS.Timeout | undefined;
      sock.on('message', (m) => {
        clearTimeout(timer);
        resolve(m.toString('utf8'));
      });
      sock.on('error', reject);
      const send = (): void => {
        if (++tries > POLLS) return reject(new Error('no UDP reply'));
        sock.send(text, port, '127.0.0.1');
        timer = setTimeout(send, 100);
      };
      send();
    });
  } finally {
    sock.close();
  }
}

const base = { publish: [], publishAll: false, exposedPorts: [], hostname: 'box' };

describe.skipIf(!ready)('slirp4netns attached to a namespace, as the test user', () => {
  it('configures tap0, DNS and hosts, and leaves nothing behind', async () => {
    const a = await attach({ ...base, mode: 'slirp4netns' });
    expect(a.ok, a.message).toBe(true);
    expect(a.resolvConf).toBe('nameserver 10.0.2.3\n');
    expect(a.hosts).toMatch(/^10\.0\.2\.100\tbox$/m);
    const addr = await inside(a, ['ip', '-4', '-o', 'addr']);
    expect(addr.stdout).toMatch(/lo\s+inet 127\.0\.0\.1/);
    expect(addr.stdout).toMatch(/tap0\s+inet 10\.0\.2\.100\/24/);
    const route = await inside(a, ['ip', 'route']);
    expect(route.stdout).toMatch(/default via 10\.0\.2\.2 dev tap0/);
    const links = await inside(a, ['ip', '-br', 'link']);
    expect(links.stdout).toMatch(/^lo\s+\S+\s+\S+\s+<LOOPBACK,UP/m);
    expect(sockets().length).toBeGreaterThan(0);
    await release(a);
    expect(slirpProcesses()).toEqual([]);
    expect(sockets()).toEqual([]);
  });

  it('reaches a host loopback server through 10.0.2.2 only with allow_host_loopback', async () => {
    const open = await attach({ ...base, mode: 'slirp4netns:allow_host_loopback=true' });
    expect(open.ok, open.message).toBe(true);
    const page = await inside(open, ['timeout', '10', 'busybox', 'wget', '-qO-', `http://10.0.2.2:${serverPort}/`]);
    await release(open);
    expect(page.stdout).toBe('hello from the host\n');

    const closed = await attach({ ...base, mode: 'slirp4netns' });
    expect(closed.ok, closed.message).toBe(true);
    const refused = await inside(closed, ['timeout', '10', 'busybox', 'wget', '-qO-', `http://10.0.2.2:${serverPort}/`]);
    await release(closed);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).not.toContain('hello');
    expect(slirpProcesses()).toEqual([]);
  });

  it('forwards a TCP port from 127.0.0.1 to a server in the namespace', async () => {
    const port = await freePort();
    const a = await attach({ ...base, mode: 'slirp4netns', publish: [{ hostIp: '127.0.0.1', hostPort: port, containerPort: 80, protocol: 'tcp' }] });
    expect(a.ok, a.message).toBe(true);
    expect(a.published).toEqual([{ hostIp: '127.0.0.1', hostPort: port, containerPort: 80, protocol: 'tcp' }]);
    const www = tempDir('flux-www-');
    chmodSync(www, 0o755);
    writeFileSync(join(www, 'index.html'), 'served from the namespace\n', { mode: 0o644 });
    const httpd = serveInside(a, ['busybox', 'httpd', '-f', '-p', '80', '-h', www]);
    try {
      let body = '';
      for (let i = 0; i < POLLS && !body.includes('served'); i++) {
        body = await httpGet(port).catch(() => '');
        if (!body.includes('served')) await new Promise((r) => setTimeout(r, 100));
      }
      expect(body).toContain('served from the namespace');
    } finally {
      await httpd.stop();
      await release(a);
    }
  });

  it('forwards UDP both ways', async () => {
    const port = await freePort();
    const a = await attach({ ...base, mode: 'slirp4netns', publish: [{ hostIp: '127.0.0.1', hostPort: port, containerPort: 5353, protocol: 'udp' }] });
    expect(a.ok, a.message).toBe(true);
    const echo = serveInside(a, ['perl', '-e', UDP_ECHO, '5353']);
    try {
      expect(await udpExchange(port, 'ping')).toBe('echo:ping');
    } finally {
      await echo.stop();
      await release(a);
    }
  });

  it('refuses a host port already in use before touching the namespace', async () => {
    const taken = createTcpServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const a = await attach({ ...base, mode: 'slirp4netns', publish: [{ hostIp: '127.0.0.1', hostPort: port, containerPort: 80, protocol: 'tcp' }] });
      expect(a.ok).toBe(false);
      expect(`${a.message} ${a.hint}`).toBe(`host port ${port} is already in use. Pick another with -p.`);
      await new Promise<void>((r) => a.child.once('close', () => r()));
    } finally {
      await new Promise((r) => taken.close(r));
    }
    expect(slirpProcesses()).toEqual([]);
    expect(sockets()).toEqual([]);
  });

  it('two namespaces forward two ports at once', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const a = await attach({ ...base, mode: 'slirp4netns', publish: [{ hostIp: '127.0.0.1', hostPort: p1, containerPort: 80, protocol: 'tcp' }] });
    const b = await attach({ ...base, mode: 'slirp4netns', publish: [{ hostIp: '127.0.0.1', hostPort: p2, containerPort: 80, protocol: 'tcp' }] });
    expect(a.ok && b.ok, `${a.message} ${b.message}`).toBe(true);
    const servers = [a, b].map((x, i) => {
      const www = tempDir('flux-www-');
      chmodSync(www, 0o755);
      writeFileSync(join(www, 'index.html'), `namespace ${i}\n`, { mode: 0o644 });
      return serveInside(x, ['busybox', 'httpd', '-f', '-p', '80', '-h', www]);
    });
    try {
      for (const [port, want] of [[p1, 'namespace 0'], [p2, 'namespace 1']] as const) {
        let body = '';
        for (let i = 0; i < POLLS && !body.includes(want); i++) {
          body = await httpGet(port).catch(() => '');
          if (!body.includes(want)) await new Promise((r) => setTimeout(r, 100));
        }
        expect(body).toContain(want);
      }
    } finally {
      for (const s of servers) await s.stop();
      await release(a);
      await release(b);
    }
    expect(slirpProcesses()).toEqual([]);
  });

  it('slirp4netns ends with its supervisor even when that is killed', async () => {
    const a = await attach({ ...base, mode: 'slirp4netns' });
    expect(a.ok, a.message).toBe(true);
    expect(slirpProcesses().length).toBeGreaterThan(0);
    const closed = new Promise<void>((r) => a.child.once('close', () => r()));
    process.kill(a.driverPid as number, 'SIGKILL');
    await closed;
    spawnSync('kill', ['-KILL', String(a.pid)]);
    for (let i = 0; i < POLLS && slirpProcesses().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(slirpProcesses()).toEqual([]);
    // Nobody was left to remove the API socket; a later run is not disturbed by it.
    for (const f of sockets()) rmSync(join(runtime, f), { force: true });
  });

  it('names the fix when /dev/net/tun cannot be opened', async () => {
    // A root-owned 0600 file over /dev/net/tun, in a mount namespace of the test user's own.
    const dir = tempDir('flux-tun-');
    chmodSync(dir, 0o755);
    const fake = join(dir, 'tun');
    writeFileSync(fake, '', { mode: 0o600 });
    const a = await attach({ ...base, mode: 'slirp4netns' }, ['unshare', '--user', '--map-root-user', '--mount', 'sh', '-c', `mount --bind ${fake} /dev/net/tun && exec "$@"`, 'sh']);
    expect(a.ok).toBe(false);
    expect(`${a.message} ${a.hint}`).toBe(
      'slirp4netns cannot open /dev/net/tun (EACCES): the device is not usable by unprivileged users. Make it so with chmod 0666 /dev/net/tun (udev normally does this), or run with --network none.',
    );
    await new Promise<void>((r) => a.child.once('close', () => r()));
    expect(slirpProcesses()).toEqual([]);
  });

  it('says how to install slirp4netns when it is missing', async () => {
    // A PATH with what the driver needs (unshare, sleep) and no slirp4netns.
    const bin = tempDir('flux-path-');
    chmodSync(bin, 0o755);
    for (const tool of ['unshare', 'sleep']) symlinkSync(spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim(), join(bin, tool));
    const a = await attach({ ...base, mode: 'slirp4netns' }, [], bin);
    expect(a.ok).toBe(false);
    expect(`${a.message} ${a.hint}`).toBe('slirp4netns is not installed. Install it (apt-get install slirp4netns) or run with --network none.');
  });

  it('publishes exposed ports on free host ports with -P', async () => {
    const a = await attach({ ...base, mode: 'slirp4netns', publishAll: true, exposedPorts: ['80/tcp', '53/udp'] });
    expect(a.ok, a.message).toBe(true);
    await release(a);
    expect(a.published).toHaveLength(2);
    expect(a.published?.map((p) => `${p.containerPort}/${p.protocol}`).sort()).toEqual(['53/udp', '80/tcp']);
    for (const p of a.published ?? []) expect(p.hostPort).toBeGreaterThan(0);
  });

  it('none: no helper, no nameserver', async () => {
    const a = await attach({ ...base, mode: 'none' });
    expect(a.ok, a.message).toBe(true);
    const links = await inside(a, ['ip', '-o', 'link']);
    await release(a);
    expect(links.stdout.trim().split('\n')).toHaveLength(1);
    expect(links.stdout).toMatch(/^1: lo:/);
    expect(a.resolvConf).not.toMatch(/nameserver/);
  });
});

describe.skipIf(!ready)('pasta attached to a namespace, as the test user', () => {
  it('configures the namespace, forwards a port and stops', async () => {
    if (!requireTool('pasta')) return;
    const port = await freePort();
    const a = await attach({ ...base, mode: 'pasta:allow_host_loopback=true', publish: [{ hostIp: '127.0.0.1', hostPort: port, containerPort: 80, protocol: 'tcp' }] });
    expect(a.ok, a.message).toBe(true);
    try {
      const route = await inside(a, ['ip', 'route']);
      expect(route.stdout).toMatch(/default via/);
      const www = tempDir('flux-www-');
      chmodSync(www, 0o755);
      writeFileSync(join(www, 'index.html'), 'served through pasta\n', { mode: 0o644 });
      const httpd = serveInside(a, ['busybox', 'httpd', '-f', '-p', '80', '-h', www]);
      try {
        let body = '';
        for (let i = 0; i < POLLS && !body.includes('served'); i++) {
          body = await httpGet(port).catch(() => '');
          if (!body.includes('served')) await new Promise((r) => setTimeout(r, 100));
        }
        expect(body).toContain('served through pasta');
      } finally {
        await httpd.stop();
      }
    } finally {
      await release(a);
    }
    expect(liveProcesses(/^(pasta|passt)/)).toEqual([]);
    expect(sockets()).toEqual([]);
  });

  it('pasta ends with its supervisor even when that is killed', async () => {
    if (!requireTool('pasta')) return;
    const a = await attach({ ...base, mode: 'pasta' });
    expect(a.ok, a.message).toBe(true);
    expect(liveProcesses(/^(pasta|passt)/).length).toBeGreaterThan(0);
    const closed = new Promise<void>((r) => a.child.once('close', () => r()));
    process.kill(a.driverPid as number, 'SIGKILL');
    await closed;
    spawnSync('kill', ['-KILL', String(a.pid)]);
    // The watchdog ends pasta, then removes its pid file: both within 5 s.
    for (let i = 0; i < POLLS && (liveProcesses(/^(pasta|passt)/).length > 0 || sockets().length > 0); i++) await new Promise((r) => setTimeout(r, 100));
    expect(liveProcesses(/^(pasta|passt)/)).toEqual([]);
    expect(sockets()).toEqual([]);
  });
});
