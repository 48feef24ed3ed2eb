/**
 * `-p` for a container on a user network: the network's slirp4netns forwards the host port to
 * its own address in the holder (10.0.2.100) on a guest port of the forward's own, and the
 * holder's NAT rewrites that to the member's address and container port. (slirp4netns cannot
 * forward to an address outside its own 10.0.2.0/24 itself: it resets such connections.) The
 * guest port is the host port unless another forward on the network has it already: one host
 * port published on two host addresses (by two members) then stays two forwards, as the NAT
 * rule tells them apart by the guest port alone.
 */
import { existsSync, rmSync } from 'node:fs';
import { FluxError } from '../errors.js';
import { apiRequest } from '../sandbox/slirp4netns.js';
import type { PortForward } from '../sandbox/network-types.js';
import { describeForward } from '../sandbox/publish-spec.js';
import { inHolder } from './network-proc.js';
import { forwardsFile, type Member } from './network-state.js';

/** A forward in place: slirp4netns's id for it, the holder's NAT rule, and how `network inspect` shows it. */
export interface Forwarded { id: number; rule: string; port?: string }

const rule = (f: PortForward, guestPort: number, address: string): string =>
  `PREROUTING -i tap0 -p ${f.protocol} --dport ${guestPort} -j DNAT --to-destination ${address}:${f.containerPort}`;

/** The guest ports the members' forwards use, as `tcp/8080` (read from their rules, which every version wrote). */
export function guestPortsOf(members: Member[]): Set<string> {
  const used = new Set<string>();
  for (const m of members) {
    for (const f of m.forwards ?? []) {
      const hit = / -p (tcp|udp) --dport (\d+) /.exec(f.rule);
      if (hit) used.add(`${hit[1]}/${hit[2]}`);
    }
  }
  return used;
}

function guestPort(f: PortForward, used: Set<string>): number {
  for (let i = 0; i < 65535; i++) {
    const port = ((f.hostPort - 1 + i) % 65535) + 1;
    if (!used.has(`${f.protocol}/${port}`)) {
      used.add(`${f.protocol}/${port}`);
      return port;
    }
  }
  throw new FluxError('NETWORK_FULL', 'the network has no guest port left for another forward.', { hint: 'Remove containers that publish ports, or publish fewer.', exitCode: 125 });
}

/**
 * UDP forwards cannot work on a network: libslirp drops the replies to forwarded datagrams
 * (sent to 10.0.2.2) while host loopback is blocked, and a network's slirp4netns always blocks
 * it, for every member (the default network turns host loopback on for its one container
 * instead). `-p` is refused before anything is made; `-P` once the image's ports are known,
 * before any forward (the run then leaves the network).
 */
export function refuseUdp(network: string, forwards: PortForward[], exposed = false): void {
  if (!forwards.some((f) => f.protocol === 'udp')) return;
  const why = `its slirp4netns keeps host loopback blocked, and libslirp then drops the replies to the host`;
  if (exposed) {
    throw new FluxError('UDP_NEEDS_LOOPBACK', `the image exposes UDP ports, and -P cannot publish them on the network ${network}: ${why}.`, {
      hint: 'Publish its TCP ports with -p instead, or run it on the default network (leave out --network).',
      exitCode: 125,
    });
  }
  throw new FluxError('UDP_NEEDS_LOOPBACK', `UDP ports cannot be published on the network ${network}: ${why}.`, {
    hint: 'Publish them on the default network (leave out --network), or leave out the /udp forward.',
    exitCode: 125,
  });
}

/** `used`: the guest ports other forwards on the network have (guestPortsOf); those given here are added. */
export async function addForwards(holder: number, apiSocket: string, address: string, forwards: PortForward[], used: Set<string>): Promise<Forwarded[]> {
  const done: Forwarded[] = [];
  try {
    for (const f of forwards) {
      const guest = guestPort(f, used);
      const r = await apiRequest(apiSocket, { execute: 'add_hostfwd', arguments: { proto: f.protocol, host_addr: f.hostIp, host_port: f.hostPort, guest_addr: '10.0.2.100', guest_port: guest } });
      const id = (r.return as { id?: number } | undefined)?.id;
      if (id === undefined) {
        throw new FluxError('PORT_IN_USE', `host port ${f.hostPort} cannot be forwarded (${JSON.stringify(r.error ?? 'no answer')}); pick another with -p.`, { exitCode: 125 });
      }
      // In the list before the rule is added: a failure below still removes the forward.
      const forwarded: Forwarded = { id, rule: rule(f, guest, address), port: describeForward(f) };
      done.push(forwarded);
      await inHolder(holder, `iptables -t nat -A ${forwarded.rule}`);
    }
  } catch (err) {
    await removeForwards(holder, apiSocket, done);
    throw err;
  }
  return done;
}

export async function removeForwards(holder: number, apiSocket: string, forwards: Forwarded[]): Promise<void> {
  for (const f of forwards) {
    await apiRequest(apiSocket, { execute: 'remove_hostfwd', arguments: { id: f.id } }).catch(() => undefined);
    await inHolder(holder, `iptables -t nat -D ${f.rule}`).catch(() => undefined);
  }
}

/**
 * A member's forwards go with it. Its forwards file says they are still in place: the holder's
 * loop, which drops members whose run was killed, removes them too and then the file.
 */
export async function dropForwards(dir: string, holder: number, apiSocket: string, m: Member): Promise<void> {
  const file = forwardsFile(dir, m.netPid);
  if (!existsSync(file)) return;
  await removeForwards(holder, apiSocket, m.forwards ?? []);
  rmSync(file, { force: true });
}
