/**
 * The container's /etc/hosts. Its own module: the network modes (network.ts, slirp4netns.ts,
 * pasta.ts) all write one, and network.ts loads those modes, so keeping it there made a cycle.
 */
export function hostsFile(hostname: string, address: string, extra: string[] = []): string {
  return [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    `${address}\t${hostname}`,
    ...extra,
    '',
  ].join('\n');
}
