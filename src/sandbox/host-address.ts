/**
 * Addresses that reach the host from a container's network: what `host.containers.internal` and
 * `--add-host NAME:host-gateway` name.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

/** The host's first non-loopback IPv4 address: slirp4netns NATs a connection to it back to the host. */
export function primaryHostAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

/** The default route's gateway (pasta copies it into the namespace and maps it to the host). */
export function defaultGateway(): string | undefined {
  try {
    for (const line of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1] === '00000000' && f[2] && f[2] !== '00000000') {
        const n = Number.parseInt(f[2], 16);
        return [n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255].join('.');
      }
    }
  } catch {
    // no /proc/net/route: no gateway to name
  }
  return undefined;
}
