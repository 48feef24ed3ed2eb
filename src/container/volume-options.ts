/**
 * `-v HOST:CONTAINER[:OPTIONS]` as docker and podman write it: OPTIONS is a comma list of ro/rw,
 * the SELinux relabel marks z/Z, podman's U (give the volume to the container's user), and the
 * propagation and consistency words docker scripts carry along.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, posix, resolve as resolvePath } from 'node:path';
import { FluxError } from '../errors.js';
import type { VolumeSpec } from '../sandbox/plan.js';

/** A volume as asked for: the mount itself, and what is done to the host path before it. */
export interface VolumeRequest extends VolumeSpec {
  /** `U`: the host path is chowned (recursively) to the container's user and group. */
  chown?: true;
  /** `z`/`Z`: an SELinux relabel asked for; flux does not relabel (the host's labels stay). */
  relabel?: 'z' | 'Z';
}

/** Words accepted and without effect here: propagation (the mounts are private) and docker for Mac's consistency. */
const IGNORED = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'cached', 'delegated', 'consistent', 'nocopy', 'bind', 'rbind']);

const bad = (message: string, hint: string) => new FluxError('BAD_VOLUME', message, { hint, exitCode: 125 });

/** The option list of -v (`ro,Z`, `rw,z`, `U`…) applied to a volume. */
export function volumeOptions(list: string, spec: string): Omit<VolumeRequest, 'host' | 'container'> {
  const out: Omit<VolumeRequest, 'host' | 'container'> = { readOnly: false };
  for (const opt of list.split(',')) {
    if (opt === 'ro' || opt === 'readonly') out.readOnly = true;
    else if (opt === 'rw') out.readOnly = false;
    else if (opt === 'z' || opt === 'Z') out.relabel = opt;
    else if (opt === 'U') out.chown = true;
    else if (!IGNORED.has(opt)) {
      throw bad(`invalid volume option "${opt}" in "${spec}".`, 'The options are a comma list of ro, rw, z, Z and U, e.g. -v ./data:/data:ro,Z.');
    }
  }
  return out;
}

/** A host path of a volume: absolute or ./relative, and existing. */
export function hostPath(host: string, what: string, cwd: string): string {
  if (!isAbsolute(host) && !host.startsWith('.')) {
    throw bad(`"${host}" in ${what} is not a host path (named volumes are not supported).`, 'Give an absolute path or one starting with ./');
  }
  const abs = resolvePath(cwd, host);
  if (!existsSync(abs)) throw bad(`the host path ${abs} of ${what} does not exist.`, 'Create it first, or fix the path.');
  return abs;
}

export function containerPath(path: string, what: string): string {
  if (!isAbsolute(path)) throw bad(`the container path "${path}" in ${what} is not absolute.`, 'Write it from /, e.g. -v ./data:/data.');
  return posix.normalize(path);
}

export function parseVolume(spec: string, cwd = process.cwd()): VolumeRequest {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) {
    throw bad(`invalid volume "${spec}".`, 'Write -v HOST_PATH:CONTAINER_PATH[:OPTIONS], OPTIONS a comma list of ro, rw, z, Z and U.');
  }
  const [host, container, options] = parts as [string, string, string | undefined];
  const opts = options === undefined ? { readOnly: false } : volumeOptions(options, spec);
  const ctr = containerPath(container, `-v ${spec}`);
  return { host: hostPath(host, `-v ${spec}`, cwd), container: ctr, ...opts };
}

/**
 * Refuses two mounts at one container path (-v, --mount, --tmpfs, --tz), as podman and docker
 * do: the later would hide the earlier, so one of them was a mistake.
 */
export function checkDestinations(paths: string[]): void {
  const seen = new Set<string>();
  for (const p of paths) {
    const key = p.length > 1 ? p.replace(/\/+$/, '') : p;
    if (seen.has(key)) {
      throw new FluxError('DUPLICATE_MOUNT', `the container path ${key} is given twice (-v, --mount, --tmpfs or --tz).`, { hint: 'Mount one volume or tmpfs at each container path.', exitCode: 125 });
    }
    seen.add(key);
  }
}
