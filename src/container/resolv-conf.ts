/**
 * `--dns`, `--dns-search` and `--dns-option`: the container's /etc/resolv.conf with the given
 * name servers instead of the network's, and its search and options lines replaced.
 */
import { isIP } from 'node:net';
import { FluxError } from '../errors.js';

export interface DnsOptions {
  dns: string[];
  search: string[];
  options: string[];
}

export function resolvConf(base: string, d: DnsOptions): string {
  for (const ip of d.dns) {
    if (isIP(ip) === 0) throw new FluxError('BAD_DNS', `--dns ${ip} is not an IP address.`, { hint: 'Give --dns the address of a name server, e.g. --dns 1.1.1.1.', exitCode: 125 });
  }
  for (const s of [...d.search, ...d.options]) {
    if (/\s/.test(s) || s === '') throw new FluxError('BAD_DNS', `"${s}" of --dns-search or --dns-option holds a space or is empty.`, { hint: 'Give one domain or option per flag.', exitCode: 125 });
  }
  if (d.dns.length === 0 && d.search.length === 0 && d.options.length === 0) return base;
  const keep = base.split('\n').filter((l) => {
    const word = l.trim().split(/\s+/)[0];
    if (word === 'nameserver') return d.dns.length === 0;
    if (word === 'search' || word === 'domain') return d.search.length === 0;
    if (word === 'options') return d.options.length === 0;
    return l.trim() !== '';
  });
  // docker's `--dns-search .` means no search domains at all.
  const search = d.search.filter((s) => s !== '.');
  return [
    ...keep,
    ...d.dns.map((ip) => `nameserver ${ip}`),
    ...(search.length > 0 ? [`search ${search.join(' ')}`] : []),
    ...(d.options.length > 0 ? [`options ${d.options.join(' ')}`] : []),
    '',
  ].join('\n');
}
