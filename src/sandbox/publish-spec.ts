/**
 * The text of port forwards: `-p` values and an image's ExposedPorts. Pure parsing, kept apart
 * from the port probing in ports.ts so that a run without -p or -P never loads sockets code.
 */
import { isIPv4 } from 'node:net';
import { FluxError } from '../errors.js';
import type { PortForward } from './network-types.js';

export type Protocol = PortForward['protocol'];

const PUBLISH_HINT = 'Use -p [[IP:][HOSTPORT]:]CONTAINERPORT[/tcp|/udp], e.g. -p 8080:80, -p 80 or -p 127.0.0.1:5353:53/udp.';

/**
 * `-p [IP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]`, as docker and podman accept it; `-p CONTAINERPORT`
 * and `-p IP::CONTAINERPORT` leave the host port to flux (hostPort 0, see choosePorts). Ranges
 * (`8000-8003:80-83`) expand to one forward per port; both sides must have the same length.
 */
export function parsePublishSpec(spec: string): PortForward[] {
  const bad = (why: string): FluxError =>
    new FluxError('BAD_PUBLISH', `invalid port mapping "${spec}": ${why}.`, { hint: PUBLISH_HINT, exitCode: 125 });

  let rest = spec.trim();
  let protocol: Protocol = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const proto = rest.slice(slash + 1).toLowerCase();
    if (proto !== 'tcp' && proto !== 'udp') throw bad(`protocol "${proto}" is not tcp or udp`);
    protocol = proto;
    rest = rest.slice(0, slash);
  }

  const parts = rest.split(':');
  let hostIp = '0.0.0.0';
  let hostPart: string;
  let containerPart: string;
  if (parts.length === 1) {
    // `-p 80`: a free host port, chosen when the run starts (hostPort 0 until then).
    hostPart = '';
    containerPart = parts[0] as string;
  } else if (parts.length === 2) {
    [hostPart, containerPart] = parts as [string, string];
  } else if (parts.length === 3) {
    const ip = parts[0] as string;
    [, hostPart, containerPart] = parts as [string, string, string];
    if (ip !== '') {
      if (!isIPv4(ip)) throw bad(`"${ip}" is not an IPv4 address`);
      hostIp = ip;
    }
  } else {
    throw bad('too many ":"');
  }

  const container = parseRange(containerPart, bad, 'container');
  const host = hostPart === '' ? container.map(() => 0) : parseRange(hostPart, bad, 'host');
  if (host.length !== container.length) throw bad('the host and container port ranges differ in length');
  return host.map((hostPort, i) => ({ hostIp, hostPort, containerPort: container[i] as number, protocol }));
}

function parseRange(text: string, bad: (why: string) => FluxError, side: string): number[] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) throw bad(`the ${side} port "${text}" is not a number or a range`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  for (const p of [lo, hi]) if (p < 1 || p > 65535) throw bad(`the ${side} port ${p} is not between 1 and 65535`);
  if (hi < lo) throw bad(`the ${side} port range ${text} runs backwards`);
  if (hi - lo >= 1024) throw bad(`the ${side} port range ${text} is longer than 1024 ports`);
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

/** Image ExposedPorts keys: `80`, `80/tcp`, `53/udp`, `8000-8002/tcp`. Unknown protocols (sctp) are skipped. */
export function parseExposedPorts(keys: string[]): { containerPort: number; protocol: Protocol }[] {
  const out: { containerPort: number; protocol: Protocol }[] = [];
  for (const key of keys) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(\w+))?$/.exec(key.trim());
    if (!m) continue;
    const proto = (m[3] ?? 'tcp').toLowerCase();
    if (proto !== 'tcp' && proto !== 'udp') continue;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 1 || hi > 65535 || hi < lo || hi - lo >= 1024) continue;
    for (let p = lo; p <= hi; p++) out.push({ containerPort: p, protocol: proto });
  }
  return out;
}

/** `0.0.0.0:32768->80/tcp`, as `docker ps` shows a forward. */
export function describeForward(f: PortForward): string {
  return `${f.hostIp}:${f.hostPort}->${f.containerPort}/${f.protocol}`;
}
