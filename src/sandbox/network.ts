import { FluxError } from '../errors.js';
import type { NetworkAttachment, NetworkLaunch, NetworkRequest, PortForward } from './network-types.js';
import { parsePublishSpec } from './publish-spec.js';
import { SLIRP_DEVICE } from './network-types.js';
import { hostsFile } from './hosts-file.js';

export { describeForward } from './publish-spec.js';

export type { NetworkAttachment, NetworkRequest, PortForward } from './network-types.js';

/**
 * Network modes of a run. `slirp4netns` (the default) and `pasta` give the container its own
 * namespace with user-mode NAT to the outside; `none` an empty namespace (only `lo`); `host` the
 * host's own. The helpers for slirp4netns and pasta are loaded only when the mode needs them.
 */
export async function createNetwork(req: NetworkRequest): Promise<NetworkAttachment> {
  const { name, options } = parseMode(req.mode);
  switch (name) {
    case 'none':
      refuseOptions(name, options);
      refusePublish(req, '--network none has no network to forward ports into');
      return noneNetwork(req.hostname);
    case 'host':
      refuseOptions(name, options);
      refusePublish(req, 'with --network host the container already listens on the host\'s own ports');
      return hostNetwork();
    case 'slirp4netns': {
      const { createSlirp4netns } = await import('./slirp4netns.js');
      return createSlirp4netns(req, options);
    }
    case 'pasta': {
      const { createPasta } = await import('./pasta.js');
      return createPasta(req, options);
    }
    default:
      return unknownMode(name);
  }
}

/** What a run's network asks of the sandbox, known before the image is read (the helper starts early). */
export interface NetworkPlan {
  newNamespace: boolean;
  /** Wired by Node after the namespace exists (attach does work): the command waits for Node's go. */
  wired: boolean;
  tapDevice?: string;
  /** The network helper the sandbox starts itself; createNetwork must get it back (NetworkRequest.launch). */
  launch?: NetworkLaunch;
}

/**
 * The plan for a --network value; an unknown mode is refused here, as by createNetwork.
 * slirp4netns is started by the sandbox helper itself, as soon as the namespace exists, except
 * with -P: the ports to publish (and so its options) depend on the image.
 */
/**
 * `detached`: the network outlives flux (a container's monitor holds it), so slirp4netns must be
 * the helper's even with -P, whose forwards are added through its API once the image is read.
 */
export async function planNetwork(mode: string, publish: PortForward[], publishAll: boolean, runtimeDir?: string, detached = false): Promise<NetworkPlan> {
  const { name, options } = parseMode(mode);
  switch (name) {
    case 'none':
      return { newNamespace: true, wired: false };
    case 'host':
      return { newNamespace: false, wired: false };
    case 'pasta':
      return { newNamespace: true, wired: true };
    case 'slirp4netns': {
      const plan = { newNamespace: true, wired: true, tapDevice: SLIRP_DEVICE };
      // -P in the foreground: Node starts slirp4netns itself once the image's ports are known
      // (a UDP one may need host loopback). Its child cannot outlive it, so not when detached.
      if (publishAll && !detached) return plan;
      const { planSlirpLaunch } = await import('./slirp4netns.js');
      // Started by the helper, whose init awaits its readiness: Node has work only for -p and -P.
      return { ...plan, wired: publish.length > 0 || publishAll, launch: planSlirpLaunch(options, publish, runtimeDir, publishAll) };
    }
    default:
      return unknownMode(name);
  }
}

function unknownMode(name: string): never {
  throw new FluxError('BAD_NETWORK', `unknown network mode "${name}".`, {
    hint: 'Use --network slirp4netns (the default), pasta, none, host, or the name of a network (flux network ls).',
    exitCode: 125,
  });
}

/** Every forward one `-p` value names (port ranges expand to one forward per port). */
export function parsePublishAll(spec: string): PortForward[] {
  return parsePublishSpec(spec);
}

export function parseMode(mode: string): { name: string; options: Map<string, string> } {
  const colon = mode.indexOf(':');
  const name = (colon < 0 ? mode : mode.slice(0, colon)).trim() || 'slirp4netns';
  const options = new Map<string, string>();
  if (colon >= 0) {
    for (const item of mode.slice(colon + 1).split(',')) {
      if (item.trim() === '') continue;
      const eq = item.indexOf('=');
      if (eq <= 0) {
        throw new FluxError('BAD_NETWORK', `network option "${item}" in "${mode}" is not KEY=VALUE.`, {
          hint: 'Write options as --network slirp4netns:allow_host_loopback=true,mtu=1500.',
          exitCode: 125,
        });
      }
      options.set(item.slice(0, eq).trim(), item.slice(eq + 1).trim());
    }
  }
  return { name: name === 'private' || name === 'default' ? 'slirp4netns' : name, options };
}

function refuseOptions(name: string, options: Map<string, string>): void {
  const first = options.keys().next();
  if (!first.done) {
    throw new FluxError('BAD_NETWORK', `--network ${name} takes no options (got "${first.value}").`, {
      hint: `Use plain --network ${name}.`,
      exitCode: 125,
    });
  }
}

function refusePublish(req: NetworkRequest, why: string): void {
  if (req.publish.length > 0) {
    throw new FluxError('BAD_PUBLISH', `-p cannot be used here: ${why}.`, {
      hint: 'Drop -p, or use the default network (slirp4netns) or --network pasta.',
      exitCode: 125,
    });
  }
}

function noneNetwork(hostname: string): NetworkAttachment {
  return {
    newNamespace: true,
    resolvConf: '# no network (--network none)\n',
    hosts: hostsFile(hostname, '127.0.1.1'),
    attach: async () => {},
    published: () => [],
    detach: async () => {},
  };
}

function hostNetwork(): NetworkAttachment {
  return {
    newNamespace: false,
    resolvConf: undefined,
    hosts: undefined,
    hostGateway: '127.0.0.1',
    attach: async () => {},
    published: () => [],
    detach: async () => {},
  };
}
