/**
 * User networks as the unprivileged test user: a detached busybox httpd `web` on network n1 is
 * reached by name, alias and address from another container on n1, not from one on n2 nor from
 * one on the default network; names follow members as they come and go; `network rm` is refused
 * while a container uses the network and leaves no process or state behind. All traffic stays
 * in namespaces the test made (the networks' and the containers'). No timing is asserted.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { buildFixtures, userFixtureDir } from '../helpers/fixtures.js';
import { busyboxWith } from '../helpers/image-layer.js';
import { fluxBin, isRoot, runAs, runFlux, removeStore, tempStore, testUser, userRuntimeDir } from '../helpers/user.js';
import { removeContainers } from '../helpers/containers.js';
import { requireTool, which } from '../helpers/require.js';
import { Flux } from '../../src/library/flux.js';

let store: string;
let runtime: string;
let busybox: string;

const flux = (args: string[]) => runFlux(args, { store, env: { XDG_RUNTIME_DIR: runtime } });

interface NetInfo { name: string; subnet: string; gateway: string; state: string; internal: boolean; holder: { pid: number }; outbound?: { pid: number }; containers: { name: string; address: string; aliases: string[]; ports: string[] }[] }

async function inspect(name: string): Promise<NetInfo> {
  const r = await flux(['network', 'inspect', name]);
  expect(r.stderr).toBe('');
  return (JSON.parse(r.stdout) as NetInfo[])[0]!;
}

/** A one-off container's output on `network` (its exit code too). */
async function client(network: string, script: string, name?: string, extra: string[] = []): Promise<{ code: number; out: string }> {
  const r = await flux(['run', '--rm', '--network', network, ...(name ? ['--name', name] : []), ...extra, busybox, '--', 'sh', '-c', script]);
  return { code: r.code, out: r.stdout + r.stderr };
}

/** Whether a process runs (a zombie not yet reaped by its new parent holds no namespace). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** `roots` and every process below them (read from /proc before any is killed). */
function descendants(roots: number[]): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* ended */
    }
  }
  const out = new Set(roots.filter((p) => parent.has(p)));
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parent) if (out.has(ppid) && !out.has(pid)) grew = out.add(pid) !== undefined;
  }
  return [...out];
}

/** Whether this process can bind host (loopback) address `host` port `port` right now: nothing holds it. */
function bindable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** The body httpd on a published port serves, or '' when the connection fails. */
const page = (host: string, port: number): Promise<string> => fetch(`http://${host}:${port}/index.html`).then((res) => res.text(), () => '');

/** A detached httpd on `network` serving its name as index.html. */
const server = (name: string, network: string, publish: string[] = []) =>
  flux(['run', '-d', '--name', name, '--network', network, ...publish.flatMap((p) => ['-p', p]), busybox, '--', 'sh', '-c', `mkdir -p /w && echo ${name} > /w/index.html && exec httpd -f -p 80 -h /w`]);

/** forwards.NETPID files left in a network's state: a member's forwards still to be removed. */
const forwardFiles = (network: string): string[] => readdirSync(join(runtime, 'flux', 'networks', network)).filter((f) => f.startsWith('forwards.'));

/** A member's namespace holder pid, by which its files in the network's state are named. */
const netPidOf = (network: string, container: string): number =>
  (JSON.parse(readFileSync(join(runtime, 'flux', 'networks', network, 'members.json'), 'utf8')) as { container: string; netPid: number }[]).find((m) => m.container === container)!.netPid;

/** The members' own hosts files (hosts.d/PID and PID.own) in a network's state. */
const hostsFiles = (network: string): string[] => readdirSync(join(runtime, 'flux', 'networks', network, 'hosts.d'));

async function until(what: string, probe: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  requireTool('newuidmap');
  requireTool('nsenter');
  requireTool('ip');
  requireTool('slirp4netns');
  await buildFixtures(['busybox']);
  store = await tempStore();
  busybox = `oci:${await userFixtureDir('busybox')}`;
  runtime = await userRuntimeDir('flux-net-runtime-');
  expect((await flux(['pull', '-q', busybox])).code).toBe(0);
});

afterAll(async () => {
  if (runtime) {
    await removeContainers(flux);
    for (const n of ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9', 'n10', 'n11', 'n12', 'n13', 'n14', 'n15', 'n16', 'n17', 'n18']) await flux(['network', 'rm', '-f', n]);
    await rm(runtime, { recursive: true, force: true });
  }
  if (store) await removeStore(store);
});

describe('flux network and flux run --network NAME', () => {
  it('lets containers on one network reach each other by name, alias and address, and no one else', async () => {
    expect((await flux(['network', 'create', 'n1'])).code).toBe(0);
    expect((await flux(['network', 'create', 'n2'])).code).toBe(0);
    const n1 = await inspect('n1');
    const n2 = await inspect('n2');
    expect(n1.subnet).toMatch(/^10\.89\.\d+\.0\/24$/);
    expect(n2.subnet).not.toBe(n1.subnet);
    expect(n1.state).toBe('running');
    const ls = JSON.parse((await flux(['network', 'ls', '--format', 'json'])).stdout) as NetInfo[];
    expect(ls.map((n) => n.name)).toEqual(['n1', 'n2']);

    const port = await freePort();
    const web = await flux(['run', '-d', '--name', 'web', '--network', 'n1', '--network-alias', 'www', '-p', `127.0.0.1:${port}:80`, busybox, '--', 'sh', '-c',
      'mkdir -p /w && echo served-by-web > /w/index.html && exec httpd -f -p 80 -h /w']);
    expect(web.stderr).toBe('');
    expect(web.code).toBe(0);
    const member = (await inspect('n1')).containers.find((c) => c.name === 'web')!;
    expect(member.aliases).toEqual(['www']);
    const addr = member.address;
    expect(addr.startsWith(n1.subnet.replace(/0\/24$/, ''))).toBe(true);
    // busybox's own wget -T crashes (SIGSEGV) in this build: its timeout applet bounds the wait instead.
    const get = (host: string) => `timeout 5 wget -q -O- http://${host}/index.html`;
    // httpd may still be starting: the first fetch is retried until it answers.
    await until('web to answer', async () => (await client('n1', get('web'))).out.includes('served-by-web'));
    for (const host of ['web', 'www', addr]) {
      const r = await client('n1', get(host));
      expect(r.out).toContain('served-by-web');
      expect(r.code).toBe(0);
    }

    // A matrix of clients on the network tests the one server; on n2 the same matrix fails.
    const matrix = await flux(['matrix', '--network', 'n1', busybox, '--', 'sh', '-c', `${get('web')} | grep -q served-by-web`]);
    expect(matrix.code).toBe(0);
    expect((await flux(['matrix', '--network', 'n2', busybox, '--', 'sh', '-c', `${get('web')} | grep -q served-by-web`])).code).toBe(1);

    // A host port forwarded with -p reaches web through the network's slirp4netns.
    const res = await fetch(`http://127.0.0.1:${port}/index.html`);
    expect(await res.text()).toBe('served-by-web\n');

    // Outbound goes through the network's slirp4netns: its virtual gateway (slirp4netns itself
    // answers) is reached, with no packet leaving the test's namespaces.
    const out = await client('n1', 'ping -c 1 -W 3 10.0.2.2 >/dev/null; echo ping=$?', undefined, ['--cap-add', 'NET_RAW']);
    expect(out.out).toContain('ping=0');

    // Another network: neither the name nor the address reaches web.
    const other = await client('n2', `${get('web')}; echo name=$?; ${get(addr)}; echo addr=$?`);
    expect(other.out).not.toContain('served-by-web');
    expect(other.out).toMatch(/name=[1-9]/);
    expect(other.out).toMatch(/addr=[1-9]/);
    // The default network (slirp4netns): no way to the address either.
    const outside = await flux(['run', '--rm', busybox, '--', 'sh', '-c', `${get(addr)}; echo addr=$?`]);
    expect(outside.stdout + outside.stderr).not.toContain('served-by-web');
    expect(outside.stdout).toMatch(/addr=[1-9]/);

    // A member's name is in every member's /etc/hosts while it is on the network, and only then.
    const seen = await client('n1', 'sleep 0; cat /etc/hosts', 'visitor');
    expect(seen.out).toMatch(/\tvisitor [0-9a-f]{12}\n/);
    const after = await flux(['exec', 'web', 'cat', '/etc/hosts']);
    expect(after.stdout).toMatch(new RegExp(`^${addr.replaceAll('.', '\\.')}\\tweb www [0-9a-f]{12}$`, 'm'));
    expect(after.stdout).not.toContain('visitor');
    // A name already on the network is refused, naming it; an alias needs a network to be on.
    const clash = await flux(['run', '--rm', '--network', 'n1', '--network-alias', 'www', busybox, '--', 'true']);
    expect([clash.code, clash.stderr]).toEqual([125, 'flux: the name www is already used on the network n1 by web. Give the container another --name or --network-alias.\n']);
    for (const network of [[], ['--network', 'none']]) {
      const alone = await flux(['run', '--rm', ...network, '--network-alias', 'www', busybox, '--', 'true']);
      expect([alone.code, alone.stderr]).toEqual([125, 'flux: --network-alias names a container on a network made with flux network create, and this run joins none. Add --network NAME of such a network, or leave --network-alias out.\n']);
    }

    const refused = await flux(['network', 'rm', 'n1']);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toBe('flux: the network n1 is used by web. Remove those containers first, or use flux network rm -f n1.\n');
    expect((await inspect('n1')).state).toBe('running');

    // The process holding web's own network namespace (with its veth) goes with web.
    const members = JSON.parse(readFileSync(join(runtime, 'flux', 'networks', 'n1', 'members.json'), 'utf8')) as { container: string; netPid: number }[];
    const webNet = members.find((m) => m.container === 'web')!.netPid;
    expect(running(webNet)).toBe(true);
    expect((await flux(['rm', '-f', 'web'])).code).toBe(0);
    expect((await inspect('n1')).containers).toEqual([]);
    // As docker: a name that is no network is reported, and the names after it are still removed.
    expect((await flux(['network', 'create', 'n18'])).code).toBe(0);
    const some = await flux(['network', 'rm', 'n1', 'nosuch', 'n18']);
    expect([some.code, some.stdout, some.stderr]).toEqual([125, 'n1\nn18\n', 'flux: there is no network named nosuch. See the networks with flux network ls, or make it with flux network create.\n']);
    const pruned = await flux(['network', 'prune']);
    expect(pruned.stdout).toBe('n2\n');
    expect(existsSync(join(runtime, 'flux', 'networks', 'n1'))).toBe(false);
    expect(existsSync(join(runtime, 'flux', 'networks', 'n2'))).toBe(false);
    expect((await flux(['network', 'ls', '--format', 'json'])).stdout).toBe('[]\n');
    // SIGKILL is sent before rm returns; the kernel ends the process a moment later.
    for (const pid of [n1.holder.pid, n2.holder.pid, n1.outbound!.pid, n2.outbound!.pid]) await until(`process ${pid} to end`, async () => !running(pid), 5000);
    await until('web\'s network namespace holder to end', async () => !running(webNet), 5000);
  });

  it('gives an --internal network no outbound traffic', async () => {
    expect((await flux(['network', 'create', '--internal', 'n5'])).code).toBe(0);
    const n5 = await inspect('n5');
    expect(n5.internal).toBe(true);
    expect(n5.outbound).toBeUndefined();
    const out = await client('n5', 'ping -c 1 -W 2 10.0.2.2; echo ping=$?', undefined, ['--cap-add', 'NET_RAW']);
    expect(out.out).toMatch(/ping=[1-9]/);
    expect(out.out).not.toContain('permission denied');
    const published = await flux(['run', '--rm', '--network', 'n5', '-p', `127.0.0.1:${await freePort()}:80`, busybox, '--', 'true']);
    expect(published.code).toBe(125);
    expect(published.stderr).toBe('flux: -p cannot be used with the network n5: it is --internal. Leave out -p, or use a network made without --internal.\n');
    const all = await flux(['run', '--rm', '--network', 'n5', '-P', busybox, '--', 'true']);
    expect(all.code).toBe(125);
    expect(all.stderr).toBe('flux: -P cannot be used with the network n5: it is --internal. Leave out -P, or use a network made without --internal.\n');
    expect((await flux(['network', 'rm', 'n5'])).code).toBe(0);
    await until('the holder to end', async () => !running(n5.holder.pid), 5000);
  });

  it('reports a killed holder, refuses runs on it in one sentence, and removes what is left', async () => {
    expect((await flux(['network', 'create', 'n6'])).code).toBe(0);
    const n6 = await inspect('n6');
    process.kill(n6.holder.pid, 'SIGKILL');
    await until('the holder to end', async () => !running(n6.holder.pid));
    expect((await inspect('n6')).state).toBe('holder-gone');
    expect((await flux(['network', 'ls'])).stdout).toMatch(/^n6\s+\S+\s+false\s+holder-gone\s+0$/m);
    const r = await flux(['run', '--rm', '--network', 'n6', busybox, '--', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toBe('flux: the process holding the network n6 has ended (it was killed). Remove the network (flux network rm n6) and create it again.\n');
    expect((await flux(['network', 'rm', 'n6'])).code).toBe(0);
    await until('slirp4netns to end', async () => !running(n6.outbound!.pid), 5000);
    expect(existsSync(join(runtime, 'flux', 'networks', 'n6'))).toBe(false);
  });

  it('drops a member whose monitor was killed with kill -9: its name, address and namespace go', async () => {
    expect((await flux(['network', 'create', 'n7'])).code).toBe(0);
    const r = await flux(['run', '-d', '--name', 'doomed', '--network', 'n7', busybox, '--', 'sleep', '1000']);
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    const members = JSON.parse(readFileSync(join(runtime, 'flux', 'networks', 'n7', 'members.json'), 'utf8')) as { container: string; netPid: number }[];
    const net = members.find((m) => m.container === 'doomed')!.netPid;
    const state = JSON.parse(readFileSync(join(runtime, 'flux', 'containers', id, 'state.json'), 'utf8')) as { monitorPid: number };
    process.kill(state.monitorPid, 'SIGKILL');
    await until('the monitor to end', async () => !running(state.monitorPid), 5000);
    expect((await inspect('n7')).containers).toEqual([]);
    await until('the member\'s namespace holder to end', async () => !running(net), 5000);
    expect((await flux(['network', 'rm', 'n7'])).code).toBe(0);
  });

  it('drops a member whose whole run was killed with kill -9, with no flux command run: its name stops resolving', async () => {
    expect((await flux(['network', 'create', 'n8'])).code).toBe(0);
    const holder = (await inspect('n8')).holder.pid;
    const r = await flux(['run', '-d', '--name', 'gone', '--network', 'n8', busybox, '--', 'sleep', '1000']);
    expect(r.code).toBe(0);
    expect((await flux(['run', '-d', '--name', 'peer', '--network', 'n8', busybox, '--', 'sleep', '1000'])).code).toBe(0);
    // busybox wget says "bad address" for a name it cannot resolve, "connection refused" for one it
    // can; while the name still points at the killed member's address the connect waits for an
    // answer that never comes, so timeout bounds it.
    const lookup = async () => (await flux(['exec', 'peer', 'sh', '-c', 'timeout 2 wget -q -O- http://gone:1/ 2>&1; true'])).stdout;
    expect(await lookup()).toContain('Connection refused');
    const members = JSON.parse(readFileSync(join(runtime, 'flux', 'networks', 'n8', 'members.json'), 'utf8')) as { container: string; netPid: number }[];
    const net = members.find((m) => m.container === 'gone')!.netPid;
    const address = (await inspect('n8')).containers.find((c) => c.name === 'gone')!.address;
    // Every process of the run (whatever flux runs it with: the pids its state names and all
    // their descendants) is killed at once, as an OOM kill or a crash would.
    const state = JSON.parse(readFileSync(join(runtime, 'flux', 'containers', r.stdout.trim(), 'state.json'), 'utf8')) as Record<string, unknown>;
    const roots = Object.entries(state).filter(([k, v]) => /Pid$/.test(k) && typeof v === 'number' && v > 0).map(([, v]) => v as number);
    expect(roots.length).toBeGreaterThan(0);
    const tree = descendants(roots);
    for (const pid of tree) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* ended meanwhile */
      }
    }
    await until('the other member to stop resolving the name', async () => (await lookup()).includes('bad address'));
    expect(readFileSync(join(runtime, 'flux', 'networks', 'n8', 'hosts'), 'utf8')).not.toMatch(/\tgone\s/);
    expect((await flux(['exec', 'peer', 'cat', '/etc/hosts'])).stdout).not.toMatch(/\tgone\s/);
    await until('the member\'s namespace holder to end', async () => !running(net), 5000);
    // Its veth went with its namespace: the bridge's side is gone from the holder's namespace.
    expect(readFileSync(`/proc/${holder}/net/dev`, 'utf8')).not.toContain(`fv${net}:`);
    const left = (await inspect('n8')).containers;
    expect(left.map((c) => c.name)).toEqual(['peer']);
    for (const pid of tree) expect(running(pid)).toBe(false);
    // Its address is free again: the next member takes it.
    const again = await flux(['run', '-d', '--name', 'next', '--network', 'n8', busybox, '--', 'sleep', '1000']);
    expect(again.code).toBe(0);
    expect((await inspect('n8')).containers.find((c) => c.name === 'next')!.address).toBe(address);
    for (const c of ['gone', 'peer', 'next']) await flux(['rm', '-f', c]);
    expect((await flux(['network', 'rm', 'n8'])).code).toBe(0);
    await until('the holder to end', async () => !running(holder), 5000);
  });

  it('publishes the image\'s exposed ports with -P on free host ports, shown by network inspect', async () => {
    const image = `oci:${await busyboxWith([], (c) => {
      c.config = { ...c.config, ExposedPorts: { '80/tcp': {} } };
    })}`;
    expect((await flux(['network', 'create', 'n9'])).code).toBe(0);
    const r = await flux(['run', '-d', '--name', 'pub', '--network', 'n9', '-P', image, '--', 'sh', '-c', 'mkdir -p /w && echo published-with-P > /w/index.html && exec httpd -f -p 80 -h /w']);
    expect(r.code).toBe(0);
    const ports = (await inspect('n9')).containers.find((c) => c.name === 'pub')!.ports;
    expect(ports).toHaveLength(1);
    const m = /^0\.0\.0\.0:(\d+)->80\/tcp$/.exec(ports[0]!);
    expect(m).not.toBeNull();
    // The port flux chose is said, as on the default network.
    expect(r.stderr).toBe(`flux: published 0.0.0.0:${m![1]} -> 80/tcp\n`);
    let body = '';
    await until('httpd to answer on the published port', async () => {
      body = await fetch(`http://127.0.0.1:${m![1]}/index.html`).then((res) => res.text(), () => '');
      return body !== '';
    });
    expect(body).toBe('published-with-P\n');
    expect((await flux(['rm', '-f', 'pub'])).code).toBe(0);
    expect((await inspect('n9')).containers).toEqual([]);
    expect((await flux(['network', 'rm', 'n9'])).code).toBe(0);
  });

  it('resolves a detached container by the name flux gave it and by its short ID', async () => {
    expect((await flux(['network', 'create', 'n10'])).code).toBe(0);
    const r = await flux(['run', '-d', '--network', 'n10', busybox, '--', 'sh', '-c', 'mkdir -p /w && echo served-unnamed > /w/index.html && exec httpd -f -p 80 -h /w']);
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    const { name } = JSON.parse(readFileSync(join(runtime, 'flux', 'containers', id, 'state.json'), 'utf8')) as { name: string };
    expect(name).toMatch(/^[a-z]+_[a-z]+_[0-9a-f]+$/);
    expect((await flux(['ps'])).stdout).toContain(name);
    const get = (host: string) => `timeout 5 wget -q -O- http://${host}/index.html`;
    await until('the container to answer by its name', async () => (await client('n10', get(name))).out.includes('served-unnamed'));
    const byId = await client('n10', get(id.slice(0, 12)));
    expect(byId.out).toContain('served-unnamed');
    expect(byId.code).toBe(0);
    expect((await inspect('n10')).containers.map((c) => c.name)).toEqual([name]);
    // Inside, the container knows its name too.
    expect((await flux(['exec', name, 'cat', '/run/.containerenv'])).stdout).toContain(`name="${name}"`);
    // A run without -d or --name is named by its short ID, its host name: the others resolve it.
    const seen = await client('n10', 'hostname; cat /etc/hosts');
    const host = seen.out.split('\n')[0]!;
    expect(host).toMatch(/^[0-9a-f]{12}$/);
    expect(seen.out).toMatch(new RegExp(`^10\\.89\\.\\d+\\.\\d+\\t${host}$`, 'm'));
    expect((await flux(['rm', '-f', name])).code).toBe(0);
    expect((await flux(['network', 'rm', 'n10'])).code).toBe(0);
  });

  it('writes --add-host lines into a member\'s /etc/hosts, before the network\'s names it keeps current', async () => {
    expect((await flux(['network', 'create', 'n11'])).code).toBe(0);
    const made = await flux(['run', '-d', '--name', 'adder', '--network', 'n11', '--hostname', 'own-host', '--add-host', 'db:192.0.2.77', '--add-host', 'gw:host-gateway', '--add-host', 'late:192.0.2.78', busybox, '--', 'sleep', '1000']);
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const hosts = async () => (await flux(['exec', 'adder', 'cat', '/etc/hosts'])).stdout;
    const before = await hosts();
    expect(before).toMatch(/^192\.0\.2\.77\tdb$/m);
    // host-gateway is the host's address as the default network reaches it (slirp4netns NATs it).
    const outside = await flux(['run', '--rm', busybox, '--', 'grep', 'host.containers.internal', '/etc/hosts']);
    const gateway = /^(\S+)\thost\.containers\.internal$/m.exec(outside.stdout)?.[1];
    expect(gateway).toBeDefined();
    expect(before).toContain(`${gateway}\tgw\n`);
    expect(before).toContain(`${gateway}\thost.containers.internal\n`);
    const address = (await inspect('n11')).containers.find((c) => c.name === 'adder')!.address;
    expect(before).toContain(`${address}\town-host\n`);
    expect(before).toMatch(new RegExp(`^${address.replaceAll('.', '\\.')}\tadder [0-9a-f]{12}$`, 'm'));
    // A member that joins later is seen by adder, after adder's own lines: `late`, also an
    // --add-host name of adder's, is 192.0.2.78 to adder (its own line wins, as in docker). No
    // other member gets adder's lines.
    expect((await flux(['run', '-d', '--name', 'late', '--network', 'n11', busybox, '--', 'sleep', '1000'])).code).toBe(0);
    const after = await hosts();
    const joined = after.search(/\tlate [0-9a-f]{12}\n/);
    expect(joined).toBeGreaterThan(-1);
    expect(after.indexOf('192.0.2.78\tlate\n')).toBeGreaterThan(-1);
    expect(after.indexOf('192.0.2.78\tlate\n')).toBeLessThan(joined);
    expect(after).toMatch(/^192\.0\.2\.77\tdb$/m);
    const peer = (await flux(['exec', 'late', 'cat', '/etc/hosts'])).stdout;
    expect(peer).toMatch(/\tadder [0-9a-f]{12}\n/);
    expect(peer).not.toContain('192.0.2.7');
    expect(peer).not.toContain('own-host');
    // A bad --add-host is refused before the run joins, as on the default network.
    const bad = await flux(['run', '--rm', '--network', 'n11', '--add-host', 'x:nope', busybox, '--', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toBe('flux: "nope" in --add-host x:nope is not an IP address. Write --add-host NAME:IP or --add-host NAME:host-gateway.\n');
    expect((await inspect('n11')).containers.map((c) => c.name).sort()).toEqual(['adder', 'late']);
    for (const c of ['adder', 'late']) await flux(['rm', '-f', c]);
    expect((await flux(['network', 'rm', 'n11'])).code).toBe(0);
    // An --internal network has no way to the host: host-gateway is refused there.
    expect((await flux(['network', 'create', '--internal', 'n12'])).code).toBe(0);
    const internal = await flux(['run', '--rm', '--network', 'n12', '--add-host', 'gw:host-gateway', busybox, '--', 'true']);
    expect(internal.code).toBe(125);
    expect(internal.stderr).toMatch(/^flux: --add-host gw:host-gateway: this network mode has no address that reaches the host\./);
    expect((await flux(['network', 'rm', 'n12'])).code).toBe(0);
  });

  it('gives members a resolv.conf whose name servers they reach: the host\'s loopback ones become slirp4netns\'s', async () => {
    requireTool('root', () => isRoot, 'the host\'s resolv.conf is replaced in a private mount namespace only');
    requireTool('unshare');
    requireTool('runuser');
    // A host with systemd-resolved, made in a mount namespace of this test alone (the host's own
    // /etc/resolv.conf is never changed); only the files are read, no name is looked up.
    const file = join(runtime, 'resolv.conf');
    writeFileSync(file, 'nameserver 127.0.0.53\nnameserver ::1\nnameserver 192.0.2.53\noptions edns0 trust-ad\nsearch example.test\n');
    const user = await testUser();
    const bin = await fluxBin();
    // runuser is in sbin, which the clean PATH lacks.
    const asUser = [which('runuser')!, '-u', user.name, '--', 'env', '-i', `HOME=${user.home}`, 'PATH=/usr/local/bin:/usr/bin:/bin', `FLUX_STORE=${store}`, `XDG_RUNTIME_DIR=${runtime}`, 'LANG=C.UTF-8', process.execPath, bin];
    const root = { name: 'root', uid: 0, gid: 0, home: '/root' };
    const inNamespace = (script: string) => runAs(root, 'unshare', ['-m', '--propagation', 'private', 'sh', '-c', `mount --bind "$0" /etc/resolv.conf && ${script}`, file, ...asUser]);
    expect((await flux(['network', 'create', 'n12'])).code).toBe(0);
    const r = await inNamespace(`"$@" run --rm --network n12 ${busybox} -- cat /etc/resolv.conf`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('nameserver 10.0.2.3\nnameserver 192.0.2.53\noptions edns0 trust-ad\nsearch example.test\n');
    // --dns still replaces them, as on the default network.
    const dns = await inNamespace(`"$@" run --rm --network n12 --dns 192.0.2.54 ${busybox} -- cat /etc/resolv.conf`);
    expect(dns.stdout).toBe('options edns0 trust-ad\nsearch example.test\nnameserver 192.0.2.54\n');
    expect((await flux(['network', 'rm', 'n12'])).code).toBe(0);
    // An --internal network reaches no name server: none is named, so an outside name fails at once.
    expect((await flux(['network', 'create', '--internal', 'n12'])).code).toBe(0);
    const internal = await inNamespace(`"$@" run --rm --network n12 ${busybox} -- cat /etc/resolv.conf`);
    expect(internal.stdout).toBe('# no name server: the network is --internal\noptions edns0 trust-ad\nsearch example.test\n');
    expect((await flux(['network', 'rm', 'n12'])).code).toBe(0);
  });

  it('removes a killed member\'s -p forward with it: the host port is free, and the member that gets its address is not reached', async () => {
    expect((await flux(['network', 'create', 'n15'])).code).toBe(0);
    const port = await freePort();
    const pub = await server('pub', 'n15', [`127.0.0.1:${port}:80`]);
    expect(pub.code).toBe(0);
    await until('pub to answer on its published port', async () => (await page('127.0.0.1', port)) === 'pub\n');
    const address = (await inspect('n15')).containers.find((c) => c.name === 'pub')!.address;
    const net = netPidOf('n15', 'pub');
    expect(hostsFiles('n15').sort()).toEqual([`${net}`, `${net}.own`]);
    const state = JSON.parse(readFileSync(join(runtime, 'flux', 'containers', pub.stdout.trim(), 'state.json'), 'utf8')) as { monitorPid: number };
    process.kill(state.monitorPid, 'SIGKILL');
    // With no flux command run, the holder's loop drops pub and its forward: slirp4netns lets go of the port.
    await until('the host port to be free', () => bindable('127.0.0.1', port));
    // Its own hosts files went before its forwards.
    expect(hostsFiles('n15')).toEqual([]);
    // The next member gets pub's address; the host port does not reach it.
    expect((await server('quiet', 'n15')).code).toBe(0);
    // (Its join waited for the network's lock, which the loop held while it removed pub's forwards.)
    expect(forwardFiles('n15')).toEqual([]);
    const quiet = (await inspect('n15')).containers.find((c) => c.name === 'quiet')!;
    expect(quiet.address).toBe(address);
    expect(quiet.ports).toEqual([]);
    expect(await page('127.0.0.1', port)).toBe('');
    // The port can be published again, and reaches the one that publishes it, not quiet (no
    // rule of pub's is left in the network's NAT to send it to pub's old address).
    const again = await server('again', 'n15', [`127.0.0.1:${port}:80`]);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    let body = '';
    await until('again to answer on the port', async () => (body = await page('127.0.0.1', port)) !== '');
    expect(body).toBe('again\n');
    for (const c of ['quiet', 'again']) expect((await flux(['rm', '-f', c])).code).toBe(0);
    expect((await flux(['network', 'rm', 'n15'])).code).toBe(0);
  });

  it('removes a killed member\'s -p forward as the next member joins, when the holder\'s loop could not', async () => {
    expect((await flux(['network', 'create', 'n14'])).code).toBe(0);
    const port = await freePort();
    const pub = await server('pub2', 'n14', [`127.0.0.1:${port}:80`]);
    expect(pub.code).toBe(0);
    await until('pub2 to answer on its published port', async () => (await page('127.0.0.1', port)) === 'pub2\n');
    const address = (await inspect('n14')).containers.find((c) => c.name === 'pub2')!.address;
    const net = netPidOf('n14', 'pub2');
    // A member that stays: its /etc/hosts loses pub2 as pub2 is dropped.
    expect((await flux(['run', '-d', '--name', 'stay2', '--network', 'n14', busybox, '--', 'sleep', '1000'])).code).toBe(0);
    expect((await flux(['exec', 'stay2', 'cat', '/etc/hosts'])).stdout).toMatch(/\tpub2 [0-9a-f]{12}\n/);
    // The network's lock as a flux killed while holding it leaves it, 40 s old: stale for flux
    // (30 s), not yet for the holder's loop (a minute), which so cannot drop pub2.
    const lock = join(runtime, 'flux', 'networks', 'n14', '.lock');
    mkdirSync(lock);
    const old = new Date(Date.now() - 40_000);
    utimesSync(lock, old, old);
    const state = JSON.parse(readFileSync(join(runtime, 'flux', 'containers', pub.stdout.trim(), 'state.json'), 'utf8')) as { monitorPid: number };
    process.kill(state.monitorPid, 'SIGKILL');
    await until('the monitor to end', async () => !running(state.monitorPid), 5000);
    // The join takes the stale lock, drops pub2 with its forward, and gets its address.
    expect((await server('quiet2', 'n14')).code).toBe(0);
    expect((await inspect('n14')).containers.find((c) => c.name === 'quiet2')!.address).toBe(address);
    expect(await bindable('127.0.0.1', port)).toBe(true);
    expect(await page('127.0.0.1', port)).toBe('');
    expect(forwardFiles('n14')).toEqual([]);
    // pub2's own hosts files went with it, and the others' were rewritten without it.
    expect(hostsFiles('n14').filter((f) => f === `${net}` || f === `${net}.own`)).toEqual([]);
    const stay = (await flux(['exec', 'stay2', 'cat', '/etc/hosts'])).stdout;
    expect(stay).not.toMatch(/\tpub2\s/);
    expect(stay).toMatch(/\tquiet2 [0-9a-f]{12}\n/);
    for (const c of ['quiet2', 'stay2']) expect((await flux(['rm', '-f', c])).code).toBe(0);
    expect((await flux(['network', 'rm', 'n14'])).code).toBe(0);
  });

  it('keeps apart two members publishing one host port on two host addresses, and each forward goes with its member', async () => {
    expect((await flux(['network', 'create', 'n16'])).code).toBe(0);
    const port = await freePort();
    expect((await server('one', 'n16', [`127.0.0.1:${port}:80`])).code).toBe(0);
    const two = await server('two', 'n16', [`127.0.0.2:${port}:80`]);
    expect(two.stderr).toBe('');
    expect(two.code).toBe(0);
    await until('one to answer', async () => (await page('127.0.0.1', port)) !== '');
    await until('two to answer', async () => (await page('127.0.0.2', port)) !== '');
    expect(await page('127.0.0.1', port)).toBe('one\n');
    expect(await page('127.0.0.2', port)).toBe('two\n');
    // one leaves: its forward goes (its monitor leaves the network as it ends), two's stays.
    expect((await flux(['rm', '-f', 'one'])).code).toBe(0);
    await until('one\'s host port to be free', () => bindable('127.0.0.1', port));
    expect(await page('127.0.0.2', port)).toBe('two\n');
    expect((await flux(['rm', '-f', 'two'])).code).toBe(0);
    await until('two\'s host port to be free', () => bindable('127.0.0.2', port));
    await until('no forwards file to be left', async () => forwardFiles('n16').length === 0);
    expect((await flux(['network', 'rm', 'n16'])).code).toBe(0);
  });

  it('refuses UDP forwards on a network in one sentence (their replies could not reach the host), leaving nothing behind', async () => {
    expect((await flux(['network', 'create', 'n17'])).code).toBe(0);
    const port = await freePort();
    const r = await flux(['run', '--rm', '--network', 'n17', '-p', `127.0.0.1:${port}:9999/udp`, busybox, '--', 'echo', 'THE-COMMAND-RAN']);
    expect(r.code).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('flux: UDP ports cannot be published on the network n17: its slirp4netns keeps host loopback blocked, and libslirp then drops the replies to the host. Publish them on the default network (leave out --network), or leave out the /udp forward.\n');
    const image = `oci:${await busyboxWith([], (c) => {
      c.config = { ...c.config, ExposedPorts: { '80/tcp': {}, '9999/udp': {} } };
    })}`;
    const all = await flux(['run', '-d', '--name', 'udp', '--network', 'n17', '-P', image, '--', 'sleep', '1000']);
    expect(all.code).toBe(125);
    expect(all.stderr).toBe('flux: the image exposes UDP ports, and -P cannot publish them on the network n17: its slirp4netns keeps host loopback blocked, and libslirp then drops the replies to the host. Publish its TCP ports with -p instead, or run it on the default network (leave out --network).\n');
    expect((await inspect('n17')).containers).toEqual([]);
    expect(forwardFiles('n17')).toEqual([]);
    expect((await flux(['network', 'rm', 'n17'])).code).toBe(0);
  });

  it('runs the default network\'s -p checks on a network: a port in use, below the unprivileged start, given twice', async () => {
    expect((await flux(['network', 'create', 'n13'])).code).toBe(0);
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as AddressInfo).port;
    try {
      const r = await flux(['run', '--rm', '--network', 'n13', '-p', `127.0.0.1:${port}:80`, busybox, '--', 'echo', 'THE-COMMAND-RAN']);
      expect(r.code).toBe(125);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`flux: host port ${port} is already in use. Pick another with -p.\n`);
    } finally {
      await new Promise((r) => taken.close(r));
    }
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
    expect(start, 'net.ipv4.ip_unprivileged_port_start must be above 80 for this test').toBeGreaterThan(80);
    const low = await flux(['run', '--rm', '--network', 'n13', '-p', '80:80', busybox, '--', 'true']);
    expect(low.code).toBe(125);
    expect(low.stderr).toBe(`flux: host port 80 is below ${start} and an unprivileged user may not bind it. Pick a port of 1024 or more with -p, or lower net.ipv4.ip_unprivileged_port_start (sysctl).\n`);
    const twice = await freePort();
    const r2 = await flux(['run', '--rm', '--network', 'n13', '-p', `${twice}:80`, '-p', `${twice}:81`, busybox, '--', 'true']);
    expect(r2.code).toBe(125);
    expect(r2.stderr).toBe(`flux: host port ${twice}/tcp is given twice with -p. Give each host port once.\n`);
    expect((await inspect('n13')).containers).toEqual([]);
    expect(forwardFiles('n13')).toEqual([]);
    expect((await flux(['network', 'rm', 'n13'])).code).toBe(0);
  });

  it('refuses a subnet that another network has, in one sentence', async () => {
    expect((await flux(['network', 'create', '--subnet', '10.89.200.0/24', 'n3'])).code).toBe(0);
    const r = await flux(['network', 'create', '--subnet', '10.89.200.128/25', 'n4']);
    expect(r.code).toBe(125);
    expect(r.stderr).toBe('flux: --subnet 10.89.200.128/25 overlaps the subnet of the network n3. Choose another subnet, or leave --subnet out to have one picked.\n');
    // slirp4netns's own range, which the network's outbound link uses: refused before anything is made.
    const slirp = await flux(['network', 'create', '--subnet', '10.0.2.0/24', 'n4']);
    expect(slirp.code).toBe(125);
    expect(slirp.stderr).toBe('flux: --subnet 10.0.2.0/24 overlaps 10.0.2.0/24, which slirp4netns uses for the network\'s outbound traffic. Choose another subnet, or leave --subnet out to have one picked.\n');
    expect(existsSync(join(runtime, 'flux', 'networks', 'n4'))).toBe(false);
    // An alias becomes a line of every member's /etc/hosts: only a host name is taken.
    const bad = await flux(['run', '--rm', '--network', 'n3', '--network-alias', 'evil\n10.0.0.1 web', busybox, '--', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toBe('flux: --network-alias "evil\\n10.0.0.1 web" is not a host name. Use letters, digits, _, . and - (starting with a letter or digit), at most 63 characters.\n');
    expect((await flux(['network', 'rm', 'n3'])).code).toBe(0);
  });

  it('is the library\'s too: createNetwork, networks, inspectNetwork, removeNetwork, pruneNetworks', async () => {
    // In this process (real root in CI: no user namespace, as root's containers have none).
    const dir = await mkdtemp('/tmp/flux-net-lib-');
    await chmod(dir, 0o700);
    const lib = new Flux({ runtimeDir: dir });
    try {
      const made = await lib.createNetwork('lib1', { internal: true });
      expect(made).toMatchObject({ name: 'lib1', internal: true, state: 'running', containers: [] });
      expect((await lib.networks()).map((n) => n.name)).toEqual(['lib1']);
      expect((await lib.inspectNetwork('lib1')).subnet).toBe(made.subnet);
      await expect(lib.createNetwork('none')).rejects.toThrow('none is a network mode of flux run, so it cannot name a network.');
      await expect(lib.createNetwork('lib1')).rejects.toThrow('a network named lib1 exists already.');
      await lib.removeNetwork('lib1');
      await expect(lib.inspectNetwork('lib1')).rejects.toThrow('there is no network named lib1.');
      await lib.createNetwork('lib2', { internal: true });
      expect(await lib.pruneNetworks()).toEqual(['lib2']);
      await until('the holder to end', async () => !running(made.holder.pid), 5000);
    } finally {
      for (const n of await lib.networks()) await lib.removeNetwork(n.name, { force: true });
      await rm(dir, { recursive: true, force: true });
    }
  });
});
