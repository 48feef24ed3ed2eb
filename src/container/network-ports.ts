/**
 * `-p` for a container on a user network: the network's slirp4netns forwards the host port to
 * its own address in the holder (10.0.2.100, same port), and the holder's NAT rewrites that to
 * the member's address and container port. (slirp4netns cannot forward to an address outside
 * its own 10.0.2.0/24 itself: it resets such connections.)
 */
import { FluxError } from '../errors.js';
import { apiRequest } from '../sandbox/slirp4netns.js';
import type { PortForward } from '../sandbox/network-types.js';
import { describeForward } from '../sandbox/publish-spec.js';
import { inHolder } from './network-proc.js';

/** A forward in place: slirp4netns's id for it, the holder's NAT rule, and how `network inspect` shows it. */
export interface Forwarded { id: number; rule: string; port?: string }

const rule = (f: PortForward, address: string): string =>
  `PREROUTING -i tap0 -p ${f.protocol} --dport ${f.hostPort} -j DNAT --to-destination ${address}:${f.containerPort}`;

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

export async function addForwards(holder: number, apiSocket: string, address: string, forwards: PortForward[]): Promise<Forwarded[]> {
  const done: Forwarded[] = [];
  try {
    for (const f of forwards) {
      const r = await apiRequest(apiSocket, { execute: 'add_hostfwd', arguments: { proto: f.protocol, host_addr: f.hostIp, host_port: f.hostPort, guest_addr: '10.0.2.100', guest_port: f.hostPort } });
      const id = (r.return as { id?: number } | undefined)?.id;
      if (id === undefined) {
        throw new FluxError('PORT_IN_USE', `host port ${f.hostPort} cannot be forwarded (${JSON.stringify(r.error ?? 'no answer')}); pick another with -p.`, { exitCode: 125 });
      }
      await inHolder(holder, `iptables -t nat -A ${rule(f, address)}`);
      done.push({ id, rule: rule(f, address), port: describeForward(f) });
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
