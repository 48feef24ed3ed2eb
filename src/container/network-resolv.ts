/**
 * A user network member's /etc/resolv.conf, made from the host's. A name server on the host's
 * loopback (systemd-resolved's 127.0.0.53, a local dnsmasq) is the host's own: a member has a
 * loopback of its own, where nothing answers. It becomes slirp4netns's DNS forwarder, which the
 * network's slirp4netns answers on (the default network's name server, which forwards to the
 * host's). Other name servers are reached through the network's outbound link and stay, as do
 * search and options lines. An --internal network has no way out: no name server is reachable,
 * so none is named, and a lookup of an outside name fails at once instead of waiting.
 */
import { isIP } from 'node:net';
import { ipText, SLIRP_SUBNET } from './network-subnet.js';

/** slirp4netns's DNS forwarder: the third address of its range, 10.0.2.3. */
export const SLIRP_DNS = ipText(SLIRP_SUBNET.base + 3);

const isLoopback = (ip: string): boolean => {
  const bare = ip.replace(/%.*$/, '');
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1' || /^::ffff:127\./i.test(bare);
};

export function memberResolvConf(host: string, internal: boolean): string {
  const out: string[] = [];
  let servers = 0;
  for (const line of host.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0] !== 'nameserver') {
      if (line.trim() !== '') out.push(line);
      continue;
    }
    if (internal) continue;
    const ip = isLoopback(words[1] ?? '') ? SLIRP_DNS : words[1];
    // Two loopback servers become one forwarder.
    if (ip === SLIRP_DNS && out.includes(`nameserver ${SLIRP_DNS}`)) continue;
    out.push(ip === words[1] ? line : `nameserver ${ip}`);
    servers++;
  }
  // No name server at all means the resolver's default, the loopback's: the forwarder instead.
  if (internal) out.unshift('# no name server: the network is --internal');
  else if (servers === 0) out.push(`nameserver ${SLIRP_DNS}`);
  return `${out.join('\n')}\n`;
}
