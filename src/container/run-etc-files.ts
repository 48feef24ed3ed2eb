/** The files flux writes into the container: its /etc/resolv.conf, hosts and hostname, keep-id's passwd and group, /run/.containerenv. */
import { readFileSync } from 'node:fs';
import type { ImageRecord } from '../../store/image-index.js';
import type { IdMaps } from '../userns/idmap.js';
import type { ContainerSpec } from '../sandbox/plan.js';
import type { NetworkAttachment } from '../sandbox/network-types.js';
import { isRealRoot } from '../userns/userns.js';
import { containerEnvFile } from './containerenv.js';
import { containerHosts } from './etc-hosts.js';
import { resolvConf } from './resolv-conf.js';
import { keepIdEtcFiles } from './keep-id-etc.js';
import type { RunOptions } from './run-types.js';

function readHostFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export function etcFilesFor(o: RunOptions, network: NetworkAttachment, hostname: string, id: string, lowers: string[], maps: IdMaps | undefined, record: ImageRecord | undefined, image: string | { rootfs: string }): ContainerSpec['etcFiles'] {
  const keep = maps?.keep;
  const etcFiles: ContainerSpec['etcFiles'] = [];
  const put = (name: string, content: string | undefined, hostFile: string) => {
    let text = content;
    if (text === undefined) {
      try {
        text = readFileSync(hostFile, 'utf8');
      } catch {
        text = '';
      }
    }
    // The plan's tokens end at NUL; no text file of these holds one.
    etcFiles.push({ path: `/etc/${name}`, content: text.replaceAll('\0', '') });
  };
  put('resolv.conf', resolvConf(network.resolvConf ?? readHostFile('/etc/resolv.conf'), { dns: o.dns ?? [], search: o.dnsSearch ?? [], options: o.dnsOption ?? [] }), '/etc/resolv.conf');
  const baseHosts = network.newNamespace
    ? (network.hosts ?? `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`)
    : (network.hosts ?? readHostFile('/etc/hosts'));
  put('hosts', containerHosts(baseHosts, {
    hostname,
    ...(o.name !== undefined ? { name: o.name } : {}),
    ...(network.hostGateway ? { gateway: network.hostGateway } : {}),
    addHosts: o.addHost ?? [],
  }), '/etc/hosts');
  put('hostname', `${hostname}\n`, '/etc/hostname');
  // keep-id: the kept user gets a name in the image's /etc/passwd and /etc/group, as with podman.
  if (keep) for (const f of keepIdEtcFiles(keep, maps!.user.name, lowers)) etcFiles.push(f);
  etcFiles.push({
    path: '/run/.containerenv',
    content: containerEnvFile({
      name: o.name ?? id.slice(0, 12),
      id,
      image: record ? record.reference : (image as { rootfs: string }).rootfs,
      imageId: record ? record.configDigest.replace(/^sha256:/, '') : '',
      rootless: !isRealRoot(),
    }).replaceAll('\0', ''),
  });
  return etcFiles;
}
