import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { FluxError, errnoCode } from '../errors.js';
import type { PortForward } from './network-types.js';
import type { Protocol } from './publish-spec.js';

export { describeForward, parseExposedPorts, parsePublishSpec } from './publish-spec.js';

/** Binds the host address briefly to learn whether a forward can take it; throws the sentence a user needs. */
export async function checkHostPort(fwd: Pick<PortForward, 'hostIp' | 'hostPort' | 'protocol'>): Promise<void> {
  try {
    await bindAndRelease(fwd.hostIp, fwd.hostPort, fwd.protocol);
  } catch (err) {
    throw hostPortError(fwd, err);
  }
}

/**
 * The documented `-p` checks, for any network that forwards host ports: a host port given twice
 * (on one address, or on every address and another), one already in use, one below
 * ip_unprivileged_port_start for an unprivileged user. Each is one sentence, before anything is made.
 */
export async function checkPublish(publish: PortForward[]): Promise<void> {
  const seen: PortForward[] = [];
  for (const fwd of publish) {
    const clash = seen.find(
      (f) => f.hostPort === fwd.hostPort && f.protocol === fwd.protocol && (f.hostIp === fwd.hostIp || f.hostIp === '0.0.0.0' || fwd.hostIp === '0.0.0.0'),
    );
    if (clash) {
      throw new FluxError('PORT_TWICE', `host port ${fwd.hostPort}/${fwd.protocol} is given twice with -p.`, {
        hint: 'Give each host port once.',
        exitCode: 125,
      });
    }
    await checkHostPort(fwd);
    seen.push(fwd);
  }
}

export function hostPortError(fwd: Pick<PortForward, 'hostIp' | 'hostPort' | 'protocol'>, err: unknown): FluxError {
  const code = errnoCode(err);
  const what = `host port ${fwd.hostPort}${fwd.protocol === 'udp' ? '/udp' : ''}`;
  if (code === 'EADDRINUSE') {
    return new FluxError('PORT_IN_USE', `${what} is already in use.`, { hint: 'Pick another with -p.', exitCode: 125, cause: err });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new FluxError('PORT_PRIVILEGED', `${what} is below ${unprivilegedPortStart()} and an unprivileged user may not bind it.`, {
      hint: 'Pick a port of 1024 or more with -p, or lower net.ipv4.ip_unprivileged_port_start (sysctl).',
      exitCode: 125,
      cause: err,
    });
  }
  if (code === 'EADDRNOTAVAIL') {
    return new FluxError('PORT_BAD_ADDRESS', `the host address ${fwd.hostIp} of ${what} is not an address of this machine.`, {
      hint: 'Use 127.0.0.1, 0.0.0.0 or one of this host\'s addresses in -p.',
      exitCode: 125,
      cause: err,
    });
  }
  return new FluxError('PORT_UNAVAILABLE', `${what} on ${fwd.hostIp} cannot be bound (${(err as Error).message}).`, {
    hint: 'Pick another with -p.',
    exitCode: 125,
    cause: err,
  });
}

/** Forwards whose host port is flux's choice (`-p 80`, hostPort 0) get a free one; the others are kept. */
export async function choosePorts(forwards: PortForward[]): Promise<PortForward[]> {
  const out: PortForward[] = [];
  for (const f of forwards) out.push(f.hostPort === 0 ? { ...f, hostPort: await freeHostPort(f.hostIp, f.protocol) } : f);
  return out;
}

/** A port the kernel considers free right now on hostIp (bind port 0, read it, release it). */
export async function freeHostPort(hostIp: string, protocol: Protocol): Promise<number> {
  return bindAndRelease(hostIp, 0, protocol);
}

function bindAndRelease(host: string, port: number, protocol: Protocol): Promise<number> {
  return new Promise((resolve, reject) => {
    if (protocol === 'udp') {
      const sock = createSocket('udp4');
      sock.once('error', (err) => {
        sock.close();
        reject(err);
      });
      sock.bind({ address: host, port, exclusive: true }, () => {
        const got = sock.address().port;
        sock.close(() => resolve(got));
      });
      return;
    }
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ host, port, exclusive: true }, () => {
      const addr = srv.address();
      const got = typeof addr === 'object' && addr ? addr.port : port;
      srv.close(() => resolve(got));
    });
  });
}

function unprivilegedPortStart(): number {
  try {
    const n = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim());
    return Number.isInteger(n) ? n : 1024;
  } catch {
    return 1024;
  }
}
