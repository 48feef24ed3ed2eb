/**
 * The container's /etc/hosts beyond what its network mode writes: the container's name next to
 * its hostname, `host.containers.internal` (podman's name for the host) and --add-host entries.
 */
import { isIP } from 'node:net';
import { FluxError } from '../errors.js';

export interface HostsExtras {
  hostname: string;
  /** --name: an alias of the hostname's address. */
  name?: string;
  /** An address that reaches the host from inside, if the network has one. */
  gateway?: string;
  /** --add-host NAME:IP or NAME:host-gateway (docker also writes NAME=IP). */
  addHosts: string[];
}

const HINT = 'Write --add-host NAME:IP or --add-host NAME:host-gateway.';

/** One --add-host value as a hosts line. */
export function addHostLine(spec: string, gateway: string | undefined): string {
  const m = /^([^:=\s]+)[:=](.+)$/.exec(spec);
  if (!m) throw new FluxError('BAD_ADD_HOST', `invalid --add-host "${spec}".`, { hint: HINT, exitCode: 125 });
  const [, name, raw] = m as unknown as [string, string, string];
  let ip = raw.replace(/^\[(.*)\]$/, '$1');
  if (ip === 'host-gateway') {
    if (!gateway) {
      throw new FluxError('BAD_ADD_HOST', `--add-host ${spec}: this network mode has no address that reaches the host.`, {
        hint: 'Use the default network (slirp4netns), --network host, or pasta with allow_host_loopback=true; or give an IP.',
        exitCode: 125,
      });
    }
    ip = gateway;
  }
  if (!/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(name)) throw new FluxError('BAD_ADD_HOST', `the host name "${name}" of --add-host ${spec} is not a host name.`, { hint: HINT, exitCode: 125 });
  if (isIP(ip) === 0) throw new FluxError('BAD_ADD_HOST', `"${ip}" in --add-host ${spec} is not an IP address.`, { hint: HINT, exitCode: 125 });
  return `${ip}\t${name}`;
}

/** `base` with the extras: the name on the hostname's line, then the host, then --add-host lines. */
export function containerHosts(base: string, x: HostsExtras): string {
  const lines = base.replace(/\n$/, '').split('\n');
  if (x.name && x.name !== x.hostname) {
    const i = lines.findIndex((l) => !l.trimStart().startsWith('#') && l.split(/\s+/).slice(1).includes(x.hostname));
    if (i >= 0) lines[i] = `${lines[i]} ${x.name}`;
  }
  const named = (n: string) => lines.some((l) => !l.trimStart().startsWith('#') && l.split(/\s+/).slice(1).includes(n));
  if (x.gateway && !named('host.containers.internal')) lines.push(`${x.gateway}\thost.containers.internal`);
  for (const a of x.addHosts) lines.push(addHostLine(a, x.gateway));
  return `${lines.join('\n')}\n`;
}
