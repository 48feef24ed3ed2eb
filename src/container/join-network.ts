/** A run's network shared with others: a user network (flux network create) or another container's, and the host ports said as they are published. */
import type { LaunchedHelper, NetworkAttachment, PortForward } from '../sandbox/network-types.js';
import type { VolumeRequest } from './volume-options.js';
import type { Joined } from './user-networks.js';
import type { RunOptions } from './run-types.js';
import { bad } from './run-error.js';

/** With -P or -p PORT the host ports are flux's choice: say which, once they are set up. */
export function announcing(network: NetworkAttachment, say: (text: string) => void): NetworkAttachment {
  return {
    newNamespace: network.newNamespace,
    resolvConf: network.resolvConf,
    hosts: network.hosts,
    ...(network.hostGateway ? { hostGateway: network.hostGateway } : {}),
    ...(network.tapDevice ? { tapDevice: network.tapDevice } : {}),
    attach: async (pid: number, launched?: LaunchedHelper) => {
      await network.attach(pid, launched);
      for (const f of network.published()) say(`flux: published ${f.hostIp}:${f.hostPort} -> ${f.containerPort}/${f.protocol}\n`);
    },
    published: () => network.published(),
    detach: () => network.detach(),
  };
}

/** The built-in modes (with or without options); a network's name has no colon and none of these. */
export const isNetworkMode = (network: string): boolean => network.includes(':') || ['slirp4netns', 'pasta', 'none', 'host'].includes(network);

/**
 * Joins the user network o.network names, if one does, as the container `id`: its name (or,
 * without one, its short ID, as its host name is) and its short ID resolve in every member. The
 * member's own hosts file (the network's names and its --add-host lines) becomes its /etc/hosts.
 */
export async function joinUserNetwork(o: RunOptions, id: string, volumes: VolumeRequest[], say: (text: string) => void): Promise<Joined | undefined> {
  const nets = await import('./user-networks.js');
  if (!nets.isUserNetwork(o.network!, o.runtimeDir)) return undefined;
  const { parsePublishAll } = await import('../sandbox/network.js');
  const asked: PortForward[] = o.publish.flatMap((p) => parsePublishAll(p));
  const publish = asked.some((f) => f.hostPort === 0) ? await (await import('../sandbox/ports.js')).choosePorts(asked) : asked;
  const shortId = id.slice(0, 12);
  const joined = await nets.joinNetwork(o.network!, o.name ?? shortId, o.networkAlias ?? [], o.runtimeDir, publish, o.publishAll, {
    id: shortId,
    hostname: o.hostname ?? shortId,
    addHosts: o.addHost ?? [],
  });
  volumes.push({ host: joined.hostsFile, container: '/etc/hosts', readOnly: true });
  // A host port flux picked (-p 80) is said, as on the default network.
  if (asked.some((f) => f.hostPort === 0)) for (const f of publish) say(`flux: published ${f.hostIp}:${f.hostPort} -> ${f.containerPort}/${f.protocol}\n`);
  return joined;
}

/** A process of the running container NAME whose namespaces a new container joins. */
export async function joinTarget(name: string, o: RunOptions): Promise<number> {
  if (o.publish.length > 0 || o.publishAll) {
    throw bad('BAD_NETWORK', '-p and -P cannot be used with --network container:NAME (that container\'s network is shared as it is).', 'Publish the ports on the container whose network is shared.');
  }
  // Loaded only for this mode: a plain run does not pay for the detached containers' modules.
  const [{ containersRoot, findState }, { joinableProcess }] = await Promise.all([import('./container-state.js'), import('./container-ops.js')]);
  const target = joinableProcess(findState(containersRoot(o.runtimeDir), name));
  if (target === undefined) throw bad('CONTAINER_NOT_RUNNING', `the container ${name} is not running, so its network cannot be shared.`, `Start it first (flux run -d --name ${name} ...).`);
  return target;
}
