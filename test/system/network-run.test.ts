/**
 * `flux run` networking end to end, as the unprivileged test user: the container and the host
 * talk only over 127.0.0.1 and the namespaces these runs make.
 */
import { createServer, type Server } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { chmodSync, chownSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFixtures, FIXTURES_OUT } from '../helpers/fixtures.js';
import { requireTool, which } from '../helpers/require.js';
import { removeStore, runFlux, tempStore, testUser, type RunOptions, type RunResult, type TestUser } from '../helpers/user.js';

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


const ready = requireTool('slirp4netns') && requireTool('newuidmap');
const BUSYBOX = 'oci:fixtures/out/busybox';

let user: TestUser;
let store: string;
let xdg: string;
let server: Server;
let serverPort: number;

beforeAll(async () => {
  user = await testUser();
  await buildFixtures(['busybox']);
  store = await tempStore();
  xdg = tempDir('flux-net-rt-');
  chownSync(xdg, user.uid, user.gid);
  chmodSync(xdg, 0o700);
  server = createServer((_req, res) => res.end('hello from the host\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  serverPort = (server.address() as { port: number }).port;
  // Put the image in the store once, so every run below is the offline run path.
  const warm = await flux(['run', '--network', 'none', BUSYBOX, '--', 'true']);
  expect(warm.code, warm.stderr).toBe(0);
}, 300_000);

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  if (store) await removeStore(store);
});

function flux(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return runFlux(args, { store, timeoutMs: 60_000, ...opts, env: { XDG_RUNTIME_DIR: xdg, ...opts.env } });
}

/**
 * slirp4netns / pasta processes of our runs: those whose arguments name our runtime dir (an API
 * socket), those whose flux (an ancestor) runs with our runtime dir, and any slirp4netns whose
 * sandbox helper is gone (leaked, whoever started it).
 */
function helpers(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const m = /^\d+ \((.*)\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      if (!m || m[2] === 'Z' || !/^(slirp4netns|pasta|passt)/.test(m[1] ?? '')) continue;
      if (ours(Number(pid), readFileSync(`/proc/${pid}/cmdline`, 'utf8'))) found.push(`${pid} ${m[1]}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function ours(pid: number, cmdline: string): boolean {
  if (cmdline.includes(xdg)) return true;
  for (let p = ppidOf(pid), i = 0; p > 1 && i < 3; p = ppidOf(p), i++) {
    if (environOf(p).includes(`XDG_RUNTIME_DIR=${xdg}`)) return true;
  }
  const args = cmdline.split('\0').filter(Boolean);
  const target = Number(args[args.length - 2]);
  return /slirp4netns$/.test(args[0] ?? '') && target > 0 && !existsSync(`/proc/${target}`);
}

function environOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

function ppidOf(pid: number): number {
  try {
    const m = /^\d+ \(.*\) \S (\d+)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return Number(m?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

function leftovers(): string[] {
  const dir = join(xdg, 'flux');
  return existsSync(dir) ? readdirSync(dir).filter((f) => /^(slirp4netns|pasta)-/.test(f)) : [];
}

async function expectClean(): Promise<void> {
  expect(helpers()).toEqual([]);
  expect(leftovers()).toEqual([]);
}

async function freePort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

function httpGet(port: number, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`GET ${path} HTTP/1.0\r\nHost: x\r\n\r\n`));
    sock.on('data', (d: string) => (data += d));
    sock.on('end', () => resolve(data));
    sock.on('error', reject);
    sock.setTimeout(10_000, () => sock.destroy(new Error('timeout')));
  });
}

/**
 * Polls until the page answers with `want` (the container needs a moment to start httpd), or
 * the run serving it has ended: how long that takes depends on the machine's load, not on flux.
 */
async function fetchUntil(port: number, want: string, path: string, run: Promise<unknown>): Promise<string> {
  let ended = false;
  void run.finally(() => (ended = true));
  let body = '';
  while (!body.includes(want) && !ended) {
    body = await httpGet(port, path).catch(() => '');
    if (!body.includes(want)) await new Promise((r) => setTimeout(r, 100));
  }
  return body;
}

/**
 * A container script serving `text` with busybox httpd on port 80 until the host asks for
 * /cgi-bin/stop (which stops httpd, so the run ends by itself); bounded by timeout.
 */
function httpdScript(text: string): string {
  return [
    'mkdir -p /tmp/www/cgi-bin',
    `echo '${text}' > /tmp/www/index.html`,
    "printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho bye\\nkillall httpd\\n' > /tmp/www/cgi-bin/stop",
    'chmod +x /tmp/www/cgi-bin/stop',
    'timeout 40 httpd -f -p 80 -h /tmp/www',
    'true',
  ].join('; ');
}

describe.skipIf(!ready)('flux run networking (slirp4netns by default), as the test user', () => {
  it('the default network has tap0, the slirp4netns DNS and the hostname in /etc/hosts', async () => {
    const r = await flux(['run', '--hostname', 'netbox', BUSYBOX, '--', 'sh', '-c', 'ip -o -4 addr; cat /etc/resolv.conf /etc/hosts; ip link show lo']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/tap0\s+inet 10\.0\.2\.100\/24/);
    expect(r.stdout).toContain('nameserver 10.0.2.3');
    expect(r.stdout).toMatch(/^10\.0\.2\.100\s+netbox$/m);
    expect(r.stdout).toMatch(/lo: <LOOPBACK,UP/);
    await expectClean();
  });

  it('slirp4netns is started by the sandbox helper, and stops with the run', async () => {
    const run = flux(['run', BUSYBOX, '--', 'sh', '-c', 'sleep 2; echo done']);
    let ended = false;
    void run.finally(() => (ended = true));
    let parent = '';
    while (!parent && !ended) {
      const found = helpers().find((h) => h.endsWith(' slirp4netns'));
      if (found) parent = commOf(ppidOf(Number(found.split(' ')[0])));
      else await new Promise((r) => setTimeout(r, 20));
    }
    // Started by the helper as soon as the namespace exists, not by flux after a round trip.
    expect(parent).toBe('flux-helper');
    const r = await run;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('done\n');
    await expectClean();
  });

  /** flux finding `script` as slirp4netns on its PATH. */
  function fakeSlirp(script: string): RunOptions {
    const bin = tempDir('flux-fake-slirp-');
    chmodSync(bin, 0o755);
    writeFileSync(join(bin, 'slirp4netns'), script, { mode: 0o755 });
    return { env: { PATH: `${bin}:/usr/local/bin:/usr/bin:/bin` } };
  }

  /** A run whose slirp4netns never brings the network up: one sentence saying why, exit 125, and the command never runs. */
  async function expectNetworkRefused(script: string, why: string): Promise<void> {
    const r = await flux(['run', BUSYBOX, '--', 'echo', 'THE-COMMAND-RAN'], fakeSlirp(script));
    expect(r.code).toBe(125);
    expect(r.stdout).not.toContain('THE-COMMAND-RAN');
    expect(r.stderr).toBe(`flux: slirp4netns failed to set up the container network: ${why}. Run with --network none to do without a network, or check that slirp4netns works (slirp4netns --version).\n`);
    await expectClean();
  }

  it('a slirp4netns that fails to start: one sentence quoting it, exit 125, and the command never runs', async () => {
    await expectNetworkRefused(
      '#!/bin/sh\necho "fake slirp4netns: cannot attach to the namespace" >&2\nexit 1\n',
      'it exited before the network was configured (fake slirp4netns: cannot attach to the namespace)',
    );
  });

  it('a slirp4netns that never gets ready: after 10 s one sentence, exit 125, the command never runs', async () => {
    // Never writes its ready fd; leaves when its exit fd (3) closes, as slirp4netns does.
    await expectNetworkRefused('#!/bin/sh\necho "fake slirp4netns: stuck" >&2\nread line <&3\n', 'it did not configure the network within 10 s (fake slirp4netns: stuck)');
  }, 30_000);

  it('finds slirp4netns past a PATH directory the user may not search', async () => {
    // Made here as root (or by the user running the tests), mode 0700: searching it is refused.
    const closed = tempDir('flux-closed-bin-');
    chmodSync(closed, 0o700);
    if (process.getuid?.() !== 0) chmodSync(closed, 0o000);
    const r = await flux(['run', BUSYBOX, '--', 'cat', '/proc/net/route'], { env: { PATH: `${closed}:/usr/local/bin:/usr/bin:/bin` } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^tap0\s+00000000\s/m);
  });

  it('a slirp4netns that writes more on stderr than its pipe holds still brings the network up', async () => {
    // flux reads that pipe only on a failure: a full pipe must not stop slirp4netns.
    const slirp = fakeSlirp(`#!/bin/sh\nhead -c 1048576 /dev/zero | tr '\\0' x >&2\nexec ${which('slirp4netns')} "$@"\n`);
    const r = await flux(['run', BUSYBOX, '--', 'cat', '/proc/net/route'], slirp);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^tap0\s+00000000\s+0202000A\s/m);
    await expectClean();
  });

  /**
   * A stand-in for slirp4netns that configures the namespace as slirp4netns does (tap0 up, its
   * address, the default route), then behaves as `after` says, never writing its ready fd.
   */
  function configuringSlirp(after: string): RunOptions {
    return fakeSlirp([
      '#!/bin/bash',
      'pid=${@: -2:1}',
      'ns() { nsenter --target "$pid" --user --net --preserve-credentials "$@"; }',
      'ns ip link set tap0 up && ns ip addr add 10.0.2.100/24 dev tap0 && ns ip route add default via 10.0.2.2 dev tap0 || exit 1',
      after,
      '',
    ].join('\n'));
  }

  it('the command starts once slirp4netns has configured the network, before it reports ready', async () => {
    if (!requireTool('nsenter') || !requireTool('ip')) return;
    // Never says it is ready (flux would give up after 10 s, exit 125): the command must not wait for it.
    const r = await flux(['run', BUSYBOX, '--', 'ip', 'route'], configuringSlirp('read -t 20 line <&3'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('default via 10.0.2.2 dev tap0');
    expect(r.stderr).toBe('');
    await expectClean();
  }, 30_000);

  it('a slirp4netns that dies while the command runs: the command goes on, and flux says the network was lost', async () => {
    if (!requireTool('nsenter') || !requireTool('ip')) return;
    // Dead before the command starts, it would fail the run (the test above); here it dies during
    // it: once the command says it has started, and the command goes on once it has exited.
    const sig = tempDir('flux-slirp-dies-');
    chmodSync(sig, 0o777);
    const slirp = configuringSlirp([
      `i=0; while [ ! -e ${sig}/started ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done`,
      // The helper reaps it only after the command: exited is a zombie (state Z) until then.
      `(while [ -e /proc/$$ ] && [ "$(cut -d' ' -f3 /proc/$$/stat)" != Z ]; do sleep 0.05; done; : > ${sig}/gone) </dev/null >/dev/null 2>&1 3>&- 4>&- &`,
      'echo "fake slirp4netns: create_sandbox failed" >&2',
      'exit 1',
    ].join('\n'));
    const script = 'touch /sig/started; i=0; while [ ! -e /sig/gone ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; echo THE-COMMAND-RAN';
    const r = await flux(['run', '-v', `${sig}:/sig`, BUSYBOX, '--', 'sh', '-c', script], slirp);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('THE-COMMAND-RAN\n');
    expect(r.stderr).toBe('flux: warning: slirp4netns stopped while the command ran, so the container lost its network (fake slirp4netns: create_sandbox failed).\n');
    expect(existsSync(join(sig, 'gone'))).toBe(true);
    await expectClean();
  }, 90_000);

  it('reaches a host loopback server through 10.0.2.2 with allow_host_loopback=true, and not without', async () => {
    const url = `http://10.0.2.2:${serverPort}/`;
    const open = await flux(['run', '--network', 'slirp4netns:allow_host_loopback=true', BUSYBOX, '--', 'timeout', '10', 'wget', '-qO-', url]);
    expect(open.code, open.stderr).toBe(0);
    expect(open.stdout).toBe('hello from the host\n');
    const closed = await flux(['run', BUSYBOX, '--', 'timeout', '10', 'wget', '-qO-', url]);
    expect(closed.code).not.toBe(0);
    expect(closed.stdout).not.toContain('hello');
    await expectClean();
  });

  it('the host fetches a page from httpd in the container through -p 127.0.0.1:PORT:80', async () => {
    const port = await freePort();
    const run = flux(['run', '-p', `127.0.0.1:${port}:80`, BUSYBOX, '--', 'sh', '-c', httpdScript('served from the container')]);
    const body = await fetchUntil(port, 'served from the container', '/', run);
    await httpGet(port, '/cgi-bin/stop').catch(() => '');
    const r = await run;
    expect(body).toContain('served from the container');
    expect(r.code, r.stderr).toBe(0);
    await expectClean();
  });

  it('two containers forward two ports at once', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const runs = [
      flux(['run', '-p', `127.0.0.1:${p1}:80`, BUSYBOX, '--', 'sh', '-c', httpdScript('container one')]),
      flux(['run', '-p', `127.0.0.1:${p2}:80`, BUSYBOX, '--', 'sh', '-c', httpdScript('container two')]),
    ];
    const bodies = [await fetchUntil(p1, 'container one', '/', runs[0]!), await fetchUntil(p2, 'container two', '/', runs[1]!)];
    await httpGet(p1, '/cgi-bin/stop').catch(() => '');
    await httpGet(p2, '/cgi-bin/stop').catch(() => '');
    const results = await Promise.all(runs);
    expect(bodies[0]).toContain('container one');
    expect(bodies[1]).toContain('container two');
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    await expectClean();
  });

  it('a host port already in use: one sentence, non-zero, and the command never runs', async () => {
    const taken = createTcpServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = await flux(['run', '-p', `127.0.0.1:${port}:80`, BUSYBOX, '--', 'echo', 'THE-COMMAND-RAN']);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim()).toBe(`flux: host port ${port} is already in use. Pick another with -p.`);
      expect(r.stdout).not.toContain('THE-COMMAND-RAN');
    } finally {
      await new Promise((r) => taken.close(r));
    }
    await expectClean();
  });

  it('a bad -p is refused with the syntax', async () => {
    const r = await flux(['run', '-p', '8080:0', BUSYBOX, '--', 'true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^flux: invalid port mapping "8080:0": .* Use -p \[\[IP:\]\[HOSTPORT\]:\]CONTAINERPORT/m);
  });

  it('--network none shows only lo, and it is up', async () => {
    const r = await flux(['run', '--network', 'none', BUSYBOX, '--', 'sh', '-c', 'cat /proc/net/dev; ip link']);
    expect(r.code, r.stderr).toBe(0);
    const devices = r.stdout.split('\n').filter((l) => /^\s*\w+:\s+\d/.test(l)).map((l) => l.trim().split(':')[0]);
    expect(devices).toEqual(['lo']);
    expect(r.stdout).toMatch(/lo: <LOOPBACK,UP/);
    await expectClean();
  });

  it('--network host shares the host\'s interfaces', async () => {
    const r = await flux(['run', '--network', 'host', BUSYBOX, '--', 'cat', '/proc/net/dev']);
    expect(r.code, r.stderr).toBe(0);
    const host = readFileSync('/proc/net/dev', 'utf8').split('\n').filter((l) => /^\s*\w+:/.test(l)).map((l) => l.trim().split(':')[0]).sort();
    const inside = r.stdout.split('\n').filter((l) => /^\s*\w+:/.test(l)).map((l) => l.trim().split(':')[0]).sort();
    expect(inside).toEqual(host);
  });

  it('an unknown network mode is refused', async () => {
    const r = await flux(['run', '--network', 'bridge', BUSYBOX, '--', 'true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe('flux: unknown network mode "bridge". Use --network slirp4netns (the default), pasta, none, host, or the name of a network (flux network ls).');
  });

  it('--network pasta forwards a port and stops with the run', async () => {
    if (!requireTool('pasta')) return;
    const port = await freePort();
    const run = flux(['run', '--network', 'pasta', '-p', `127.0.0.1:${port}:80`, BUSYBOX, '--', 'sh', '-c', httpdScript('served through pasta')]);
    const body = await fetchUntil(port, 'served through pasta', '/', run);
    await httpGet(port, '/cgi-bin/stop').catch(() => '');
    const r = await run;
    expect(body).toContain('served through pasta');
    expect(r.code, r.stderr).toBe(0);
    await expectClean();
  });
});

/** An OCI layout: the busybox fixture with ExposedPorts added to its config (for -P). */
function busyboxExposing(ports: string[]): string {
  const dir = tempDir('flux-exposed-');
  chmodSync(dir, 0o755);
  const out = join(dir, 'image');
  cpSync(join(FIXTURES_OUT, 'busybox'), out, { recursive: true });
  const blob = (d: string): string => join(out, 'blobs/sha256', d.replace('sha256:', ''));
  const put = (text: string): { digest: string; size: number } => {
    const digest = `sha256:${createHash('sha256').update(text).digest('hex')}`;
    writeFileSync(blob(digest), text, { mode: 0o644 });
    return { digest, size: Buffer.byteLength(text) };
  };
  const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
  const config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8'));
  config.config.ExposedPorts = Object.fromEntries(ports.map((p) => [p, {}]));
  manifest.config = { ...manifest.config, ...put(JSON.stringify(config)) };
  index.manifests[0] = { ...index.manifests[0], ...put(JSON.stringify(manifest)) };
  writeFileSync(join(out, 'index.json'), JSON.stringify(index), { mode: 0o644 });
  spawnSync('chmod', ['-R', 'a+rX', dir]);
  return out;
}

describe.skipIf(!ready)('-P publishes the exposed ports', () => {
  it('on free host ports, printed, and reachable', async () => {
    const image = busyboxExposing(['80/tcp']);
    // Which host port -P picked: flux says so on stderr once the forward is in place.
    let announced: (port: number) => void = () => undefined;
    const published = new Promise<number>((resolve) => (announced = resolve));
    const run = flux(['run', '-P', `oci:${image}`, '--', 'sh', '-c', httpdScript('published with -P')], {
      onStderr: (text) => {
        const m = /^flux: published [\d.]+:(\d+) -> 80\/tcp$/m.exec(text);
        if (m) announced(Number(m[1]));
      },
    });
    const port = await Promise.race([published, run.then(() => 0)]);
    if (port === 0) {
      const r = await run;
      expect.fail(`the run ended (exit ${r.code}) without a "published" line: ${r.stderr}`);
    }
    const body = await fetchUntil(port, 'published with -P', '/', run);
    await httpGet(port, '/cgi-bin/stop').catch(() => '');
    const done = await run;
    expect(body).toContain('published with -P');
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toContain(`flux: published 0.0.0.0:${port} -> 80/tcp\n`);
    await expectClean();
  });
});

describe.skipIf(!ready)('-p CONTAINERPORT publishes on a free host port', () => {
  it('-p IP::PORT: printed, reachable on that address', async () => {
    let announced: (port: number) => void = () => undefined;
    const published = new Promise<number>((resolve) => (announced = resolve));
    const run = flux(['run', '-p', '127.0.0.1::80', BUSYBOX, '--', 'sh', '-c', httpdScript('published with -p IP::80')], {
      onStderr: (text) => {
        const m = /^flux: published 127\.0\.0\.1:(\d+) -> 80\/tcp$/m.exec(text);
        if (m) announced(Number(m[1]));
      },
    });
    const port = await Promise.race([published, run.then(() => 0)]);
    if (port === 0) {
      const r = await run;
      expect.fail(`the run ended (exit ${r.code}) without a "published" line: ${r.stderr}`);
    }
    const body = await fetchUntil(port, 'published with -p IP::80', '/', run);
    await httpGet(port, '/cgi-bin/stop').catch(() => '');
    const done = await run;
    expect(body).toContain('published with -p IP::80');
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toContain(`flux: published 127.0.0.1:${port} -> 80/tcp`);
    await expectClean();
  });

  it('-p PORT: a free port on every address, printed', async () => {
    const r = await flux(['run', '-p', '80', '-p', '53/udp', BUSYBOX, '--', 'true']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^flux: published 0\.0\.0\.0:\d+ -> 80\/tcp$/m);
    expect(r.stderr).toMatch(/^flux: published 0\.0\.0\.0:\d+ -> 53\/udp$/m);
    await expectClean();
  });
});

describe.skipIf(!ready)('UDP through -p …/udp (debian fixture: perl is the echo server)', () => {
  it('a datagram goes in and the echo comes back', async () => {
    await buildFixtures(['debian']);
    const port = await freePort();
    const echo = 'use IO::Socket::INET; alarm 40; my $s = IO::Socket::INET->new(LocalPort => 5353, Proto => "udp") or die; $s->recv(my $m, 2000); $s->send("echo:$m")';
    const run = flux(['run', '-p', `127.0.0.1:${port}:5353/udp`, 'oci:fixtures/out/debian', '--', 'perl', '-e', echo], { timeoutMs: 120_000 });
    const sock = createSocket('udp4');
    let reply = '';
    try {
      // Sent again every 100 ms until the echo comes or the run ends: the first run of this
      // image unpacks debian into the store first, which takes as long as the machine's load says.
      let ended = false;
      void run.finally(() => (ended = true));
      reply = await new Promise<string>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        sock.on('message', (m) => {
          clearTimeout(timer);
          resolve(m.toString('utf8'));
        });
        sock.on('error', reject);
        const send = (): void => {
          if (ended) return reject(new Error('no UDP reply before the run ended'));
          sock.send('ping', port, '127.0.0.1');
          timer = setTimeout(send, 100);
        };
        send();
      });
    } finally {
      sock.close();
    }
    const r = await run;
    expect(reply).toBe('echo:ping');
    expect(r.code, r.stderr).toBe(0);
    await expectClean();
  }, 180_000);
});
