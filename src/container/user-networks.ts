/** `flux network create|ls|inspect|rm|prune` and a run's joining and leaving of a user network. */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FluxError } from '../errors.js';
import { chooseSubnet, gatewayOf, hostRange, hostRoutes, ipText, parseSubnet, type Subnet } from './network-subnet.js';
import { self, checkName, listNetworkDirs, memberHostsFile, memberLive, memberNames, networkDir, networksRoot, readAllMembers, readMembers, readRecord, withLock, writeMembers, writeRecord, type Member, type NetworkRecord } from './network-state.js';
import { memberResolvConf } from './network-resolv.js';
import { addHostLine } from './etc-hosts.js';
import { checkAlias } from './run-names.js';
import { primaryHostAddress } from '../sandbox/host-address.js';
import { addForwards, dropForwards, guestPortsOf, refuseUdp, type Forwarded } from './network-ports.js';
import type { PortForward } from '../sandbox/network-types.js';
import { pidAlive, startHolder, startMember, startOutbound, stopProcess } from './network-proc.js';

export interface NetworkInfo extends NetworkRecord { state: 'running' | 'holder-gone'; containers: { name: string; address: string; aliases: string[]; ports: string[] }[] }

const info = (dir: string, r: NetworkRecord): NetworkInfo => ({
  ...r,
  state: pidAlive(r.holder.pid, r.holder.start) ? 'running' : 'holder-gone',
  containers: readMembers(dir).map((m) => ({ name: m.container, address: m.address, aliases: m.aliases, ports: (m.forwards ?? []).flatMap((f) => (f.port ? [f.port] : [])) })),
});

const notFound = (name: string) => new FluxError('NO_SUCH_NETWORK', `there is no network named ${name}.`, { hint: 'See the networks with flux network ls, or make it with flux network create.', exitCode: 125 });

/**
 * Under the network's lock: the members whose run goes on. One whose run was killed and that
 * the holder's loop has not dropped yet is dropped here, before its address can go to another
 * member; so is the one `leaving`. Its forwards and namespace holder go with it, and so do its
 * hosts files: writeMembers removes those of members gone and rewrites the others' without it.
 */
async function liveMembers(dir: string, r: NetworkRecord, leaving?: number): Promise<Member[]> {
  const all = readAllMembers(dir);
  const live = all.filter((x) => x.netPid !== leaving && memberLive(x));
  if (live.length === all.length) return live;
  for (const m of all.filter((x) => !live.includes(x))) {
    await dropForwards(dir, r.holder.pid, join(dir, 'slirp.sock'), m);
    stopProcess(m.netPid, m.netStart);
  }
  writeMembers(dir, live);
  return live;
}

export async function createNetwork(name: string, o: { subnet?: string; internal?: boolean; runtimeDir?: string }): Promise<NetworkInfo> {
  checkName(name);
  const root = networksRoot(o.runtimeDir);
  // The root's own lock: two creates never pick one subnet or one name.
  return withLock(root, async () => {
    const dir = networkDir(root, name);
    if (readRecord(dir)) throw new FluxError('NETWORK_EXISTS', `a network named ${name} exists already.`, { hint: `Remove it first (flux network rm ${name}) or choose another name.`, exitCode: 125 });
    const taken = listNetworkDirs(root).map((d) => readRecord(d)!).map((r) => ({ name: r.name, subnet: parseSubnet(r.subnet)! }));
    const subnet: Subnet = chooseSubnet(o.subnet, taken, hostRoutes(), !o.internal);
    const gateway = gatewayOf(subnet);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      const holder = await startHolder(dir, gateway, subnet.bits);
      const cidr = `${ipText(subnet.base)}/${subnet.bits}`;
      let outbound: { pid: number; start: number } | undefined;
      try {
        outbound = o.internal ? undefined : await startOutbound(holder.pid, cidr, join(dir, 'slirp.sock'));
      } catch (err) {
        stopProcess(holder.pid, holder.start);
        throw err;
      }
      const r: NetworkRecord = { name, subnet: cidr, gateway, internal: o.internal ?? false, created: new Date().toISOString(), holder, ...(outbound ? { outbound } : {}) };
      writeMembers(dir, []);
      writeRecord(dir, r);
      return info(dir, r);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  });
}

export function listNetworks(runtimeDir?: string): NetworkInfo[] {
  const root = networksRoot(runtimeDir);
  return listNetworkDirs(root).map((d) => info(d, readRecord(d)!)).sort((a, b) => a.name.localeCompare(b.name));
}

export function inspectNetwork(name: string, runtimeDir?: string): NetworkInfo {
  const dir = networkDir(networksRoot(runtimeDir), name);
  const r = readRecord(dir);
  if (!r) throw notFound(name);
  return info(dir, r);
}

/** Removes a network: refused while containers use it unless `force` (which kills their network). */
export async function removeNetwork(name: string, o: { force?: boolean; runtimeDir?: string } = {}): Promise<void> {
  const dir = networkDir(networksRoot(o.runtimeDir), name);
  if (!readRecord(dir)) throw notFound(name);
  await withLock(dir, () => {
    const r = readRecord(dir)!;
    const members = readMembers(dir);
    if (members.length > 0 && !o.force) {
      throw new FluxError('NETWORK_IN_USE', `the network ${name} is used by ${members.map((m) => m.container).join(', ')}.`, { hint: `Remove those containers first, or use flux network rm -f ${name}.`, exitCode: 125 });
    }
    // Also the namespaces of members whose run was killed: nothing may have dropped them yet.
    for (const m of readAllMembers(dir)) stopProcess(m.netPid, m.netStart);
    if (r.outbound) stopProcess(r.outbound.pid, r.outbound.start);
    stopProcess(r.holder.pid, r.holder.start);
  });
  rmSync(dir, { recursive: true, force: true });
}

/** Removes every network no container uses; returns their names. */
export async function pruneNetworks(runtimeDir?: string): Promise<string[]> {
  const removed: string[] = [];
  for (const n of listNetworks(runtimeDir)) {
    if (n.containers.length > 0) continue;
    await removeNetwork(n.name, runtimeDir === undefined ? {} : { runtimeDir });
    removed.push(n.name);
  }
  return removed;
}

export const isUserNetwork = (name: string, runtimeDir?: string): boolean =>
  /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name) && existsSync(join(networksRoot(runtimeDir), name, 'network.json'));

export interface Joined {
  pid: number;
  /** The member's own hosts file (the network's names and its own lines), its /etc/hosts. */
  hostsFile: string;
  /** Its /etc/resolv.conf (network-resolv.ts), before --dns and the like. */
  resolvConf: string;
  /** The address that reaches the host from the member (none on an --internal network). */
  hostGateway: string | undefined;
  /** -P: each of the image's exposed ports that -p left out, on a free host port; returns those forwards. */
  publishExposed: (exposed: string[]) => Promise<PortForward[]>;
  leave: () => Promise<void>;
  /**
   * A detached container's membership passes to its monitor (`owner`), which outlives this flux;
   * the returned record lets whoever ends the container leave the network (leaveHandedOver).
   */
  handOver: (owner: { pid: number; start: number }) => Promise<HandedMember>;
}

/** A membership handed over to a detached container's monitor. */
export interface HandedMember { dir: string; member: Member }

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,252}[A-Za-z0-9])?$/;

/** What a member has beyond its container name and aliases. */
export interface JoinExtras {
  /** The container's short ID (12 hex digits): one more name of it on the network. */
  id?: string;
  /** Its host name: a line of its own /etc/hosts unless it is one of its names already. */
  hostname?: string;
  /** --add-host values: lines of its own /etc/hosts, before the network's names (so they win). */
  addHosts?: string[];
}

/** A container joins: an address from the subnet, its namespace wired to the bridge, its names in hosts. */
export async function joinNetwork(name: string, container: string, aliases: string[], runtimeDir?: string, publish: PortForward[] = [], publishAll = false, extras: JoinExtras = {}): Promise<Joined> {
  const dir = networkDir(networksRoot(runtimeDir), name);
  // Names become lines of every member's /etc/hosts (and of members.tsv): host names only.
  for (const a of aliases) checkAlias(a);
  let gateway: string | undefined;
  let internal = false;
  const member = await withLock(dir, async () => {
    const r = readRecord(dir);
    if (!r) throw notFound(name);
    if (!pidAlive(r.holder.pid, r.holder.start)) {
      throw new FluxError('NETWORK_GONE', `the process holding the network ${name} has ended (it was killed).`, { hint: `Remove the network (flux network rm ${name}) and create it again.`, exitCode: 125 });
    }
    const members = await liveMembers(dir, r);
    const names = memberNames({ container, aliases, ...(extras.id ? { id: extras.id } : {}) });
    for (const m of members) {
      const taken = memberNames(m).find((n) => names.includes(n));
      if (taken !== undefined) throw new FluxError('NAME_IN_USE', `the name ${taken} is already used on the network ${name} by ${m.container}.`, { hint: 'Give the container another --name or --network-alias.', exitCode: 125 });
    }
    const subnet = parseSubnet(r.subnet)!;
    const used = new Set(members.map((m) => m.address));
    const { first, last } = hostRange(subnet);
    let address: string | undefined;
    for (let n = first; n <= last && address === undefined; n++) if (!used.has(ipText(n))) address = ipText(n);
    if (address === undefined) throw new FluxError('NETWORK_FULL', `the network ${name} has no free address left.`, { hint: 'Create a network with a larger --subnet.', exitCode: 125 });
    if ((publish.length > 0 || publishAll) && r.internal) {
      const flag = publish.length > 0 ? '-p' : '-P';
      throw new FluxError('BAD_NETWORK', `${flag} cannot be used with the network ${name}: it is --internal.`, { hint: `Leave out ${flag}, or use a network made without --internal.`, exitCode: 125 });
    }
    // The host is reached through the network's slirp4netns, which NATs the host's own address
    // back to it (host loopback stays blocked, as on the default network); --internal has no way.
    internal = r.internal;
    gateway = internal ? undefined : primaryHostAddress();
    const own = [
      ...(extras.addHosts ?? []).map((a) => addHostLine(a, gateway)),
      // A --hostname that is no host name (it is not checked) stays out: the file is line-based.
      ...(extras.hostname && !names.includes(extras.hostname) && HOST_NAME.test(extras.hostname) ? [`${address}\t${extras.hostname}`] : []),
      ...(gateway ? [`${gateway}\thost.containers.internal`] : []),
    ];
    refuseUdp(name, publish);
    // The default network's -p checks, in one sentence each; under the lock, so a member joining
    // meanwhile cannot take the port between the check and the forward.
    if (publish.length > 0) await (await import('../sandbox/ports.js')).checkPublish(publish);
    const ns = await startMember(r.holder.pid, address, subnet.bits, r.gateway);
    let forwards: Forwarded[] = [];
    try {
      forwards = publish.length > 0 ? await addForwards(r.holder.pid, join(dir, 'slirp.sock'), address, publish, guestPortsOf(members)) : [];
    } catch (err) {
      stopProcess(ns.pid, ns.start);
      throw err;
    }
    const m: Member = { container, address, aliases, ...(extras.id ? { id: extras.id } : {}), own, netPid: ns.pid, netStart: ns.start, owner: self(), ...(forwards.length > 0 ? { forwards } : {}) };
    writeMembers(dir, [...members, m]);
    return m;
  });
  return {
    pid: member.netPid,
    hostsFile: memberHostsFile(dir, member.netPid),
    resolvConf: memberResolvConf(hostResolvConf(), internal),
    hostGateway: gateway,
    publishExposed: async (exposed) => {
      const more = await exposedForwards(exposed, publish);
      if (more.length === 0) return [];
      refuseUdp(name, more, true);
      await withLock(dir, async () => {
        const r = readRecord(dir);
        if (!r) throw notFound(name);
        const members = await liveMembers(dir, r);
        const added = await addForwards(r.holder.pid, join(dir, 'slirp.sock'), member.address, more, guestPortsOf(members));
        // The member as it now stands: its forwards are removed when it leaves.
        member.forwards = [...(member.forwards ?? []), ...added];
        writeMembers(dir, members.map((m) => (m.netPid === member.netPid ? member : m)));
      });
      return more;
    },
    leave: () => leaveNetwork(dir, member),
    handOver: async (owner) => {
      const m = { ...member, owner };
      if (existsSync(dir)) {
        await withLock(dir, async () => {
          const r = readRecord(dir);
          writeMembers(dir, (r ? await liveMembers(dir, r) : readMembers(dir)).map((x) => (x.netPid === member.netPid ? m : x)));
        });
      }
      return { dir, member: m };
    },
  };
}

function hostResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

/** Leaves the network a detached container's monitor was handed (see Joined.handOver). */
export const leaveHandedOver = (h: HandedMember): Promise<void> => leaveNetwork(h.dir, h.member);

/** The forwards -P adds: a free host port (on every address) per exposed port that -p did not name. */
async function exposedForwards(exposed: string[], publish: PortForward[]): Promise<PortForward[]> {
  const { freeHostPort, parseExposedPorts } = await import('../sandbox/ports.js');
  const covered = new Set(publish.map((f) => `${f.containerPort}/${f.protocol}`));
  const out: PortForward[] = [];
  for (const e of parseExposedPorts(exposed)) {
    if (covered.has(`${e.containerPort}/${e.protocol}`)) continue;
    covered.add(`${e.containerPort}/${e.protocol}`);
    out.push({ hostIp: '0.0.0.0', hostPort: await freeHostPort('0.0.0.0', e.protocol), containerPort: e.containerPort, protocol: e.protocol });
  }
  return out;
}

async function leaveNetwork(dir: string, m: Member): Promise<void> {
  if (!existsSync(dir)) return;
  await withLock(dir, async () => {
    const r = readRecord(dir);
    // Its forwards as members.json has them (-P adds some after the join) go with it.
    if (r) await liveMembers(dir, r, m.netPid);
    else writeMembers(dir, readMembers(dir).filter((x) => x.netPid !== m.netPid));
    stopProcess(m.netPid, m.netStart);
  });
}
