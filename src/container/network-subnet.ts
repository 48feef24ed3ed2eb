/**
 * Subnets of user networks: a CIDR parsed, two compared, and a free 10.89.N.0/24 picked (as
 * podman's default range) that no host route and no other network of the user's overlaps.
 */
import { execFileSync } from 'node:child_process';
import { FluxError } from '../errors.js';

export interface Subnet { base: number; bits: number }

const toInt = (a: string): number | undefined => {
  const p = a.split('.');
  if (p.length !== 4 || p.some((x) => !/^\d{1,3}$/.test(x) || Number(x) > 255)) return undefined;
  return p.reduce((n, x) => n * 256 + Number(x), 0);
};
export const ipText = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
const size = (s: Subnet): number => 2 ** (32 - s.bits);

export function parseSubnet(text: string): Subnet | undefined {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  const ip = m ? toInt(m[1]!) : undefined;
  const bits = m ? Number(m[2]) : NaN;
  if (ip === undefined || !(bits >= 0 && bits <= 32)) return undefined;
  const base = ip - (ip % 2 ** (32 - bits));
  return { base, bits };
}

export const subnetText = (s: Subnet): string => `${ipText(s.base)}/${s.bits}`;
export const overlaps = (a: Subnet, b: Subnet): boolean => a.base < b.base + size(b) && b.base < a.base + size(a);
/** The bridge's own address (the first) and the last one a member may take. */
export const gatewayOf = (s: Subnet): string => ipText(s.base + 1);
export const hostRange = (s: Subnet): { first: number; last: number } => ({ first: s.base + 2, last: s.base + size(s) - 2 });

/** The host's IPv4 routes (default route aside): what a network's subnet must not hide. */
export function hostRoutes(): Subnet[] {
  let out = '';
  try {
    out = execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return [];
  }
  const found: Subnet[] = [];
  for (const line of out.split('\n')) {
    const words = line.trim().split(/\s+/);
    const dest = /^(local|broadcast|unicast|multicast|anycast)$/.test(words[0] ?? '') ? words[1] : words[0];
    if (!dest || dest === 'default') continue;
    const s = parseSubnet(dest.includes('/') ? dest : `${dest}/32`);
    // The loopback range is the host's own: no container traffic is routed there.
    if (s && s.bits > 0 && Math.floor(s.base / 2 ** 24) !== 127) found.push(s);
  }
  return found;
}

/**
 * The range slirp4netns gives the holder's tap0 (10.0.2.100, gateway 10.0.2.2, DNS 10.0.2.3),
 * the way out of a network that is not --internal. A subnet overlapping it would route the
 * members' and slirp4netns's own addresses to the bridge and to tap0 at once: the forwarded
 * connections of -p and outbound traffic would go astray.
 */
export const SLIRP_SUBNET: Subnet = { base: 0x0a000200, bits: 24 };

/**
 * The subnet asked for (refused when taken) or the first free 10.89.N.0/24. `outbound`: the
 * network has slirp4netns's link, whose range it must leave alone.
 */
export function chooseSubnet(asked: string | undefined, taken: { name: string; subnet: Subnet }[], routes: Subnet[], outbound = true): Subnet {
  if (asked !== undefined) {
    const s = parseSubnet(asked);
    if (!s || s.bits < 8 || s.bits > 29) throw new FluxError('BAD_SUBNET', `--subnet ${asked} is not an IPv4 CIDR with a prefix of 8 to 29 bits.`, { hint: 'Write it as 10.89.7.0/24.', exitCode: 125 });
    const net = taken.find((t) => overlaps(t.subnet, s));
    if (net) throw new FluxError('SUBNET_IN_USE', `--subnet ${subnetText(s)} overlaps the subnet of the network ${net.name}.`, { hint: 'Choose another subnet, or leave --subnet out to have one picked.', exitCode: 125 });
    if (outbound && overlaps(SLIRP_SUBNET, s)) {
      throw new FluxError('SUBNET_IN_USE', `--subnet ${subnetText(s)} overlaps ${subnetText(SLIRP_SUBNET)}, which slirp4netns uses for the network's outbound traffic.`, { hint: 'Choose another subnet, or leave --subnet out to have one picked.', exitCode: 125 });
    }
    const route = routes.find((r) => overlaps(r, s));
    if (route) throw new FluxError('SUBNET_IN_USE', `--subnet ${subnetText(s)} overlaps the host's route to ${subnetText(route)}.`, { hint: 'Choose another subnet, or leave --subnet out to have one picked.', exitCode: 125 });
    return s;
  }
  for (let n = 0; n < 256; n++) {
    const s = { base: toInt(`10.89.${n}.0`)!, bits: 24 };
    if (!taken.some((t) => overlaps(t.subnet, s)) && !routes.some((r) => overlaps(r, s))) return s;
  }
  throw new FluxError('NO_SUBNET', 'every subnet 10.89.0.0/24 to 10.89.255.0/24 is in use.', { hint: 'Remove a network (flux network rm) or give --subnet.', exitCode: 125 });
}
