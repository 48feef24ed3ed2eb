/**
 * A container's port forwards as `flux port` and Container.ports() give them: parsed back from
 * the text the state records (`0.0.0.0:49153->80/tcp`, as docker's ps shows it).
 */
import { FluxError } from '../errors.js';

export interface PortMapping {
  containerPort: number;
  protocol: 'tcp' | 'udp';
  hostIp: string;
  hostPort: number;
}

const FORWARD = /^(.+):(\d+)->(\d+)\/(tcp|udp)$/;

/** The forwards among the recorded texts (a text in another shape, from an older flux, is left out). */
export function portMappings(texts: string[]): PortMapping[] {
  return texts.flatMap((t) => {
    const m = FORWARD.exec(t);
    return m ? [{ hostIp: m[1]!, hostPort: Number(m[2]), containerPort: Number(m[3]), protocol: m[4] as 'tcp' | 'udp' }] : [];
  });
}

/** Those for one container port (`80`, `80/tcp`, `53/udp`), or a one-sentence refusal when there are none. */
export function mappingsFor(all: PortMapping[], port: string, name: string): PortMapping[] {
  const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(port.trim().toLowerCase());
  if (!m) throw new FluxError('USAGE', `${port} is not a container port.`, { hint: 'Give it as 80, 80/tcp or 53/udp.', exitCode: 125 });
  const protocol = m[2] ?? 'tcp';
  const found = all.filter((p) => p.containerPort === Number(m[1]) && p.protocol === protocol);
  if (found.length === 0) throw new FluxError('NO_PORT', `the container ${name} has no host port for ${m[1]}/${protocol}.`, { hint: `See its forwards with flux port ${name}.`, exitCode: 1 });
  return found;
}
