/**
 * The names a run gives its container: --name and --hostname. Both end up in the container's
 * /etc/hosts (and a name in the state directory's names/), so one holding a newline or a blank
 * could add lines, and names for other addresses, to that file: they are checked before
 * anything is created, for foreground and detached runs alike.
 */
import { FluxError } from '../errors.js';

/** docker's rule for container names. */
export const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
/** A host name the kernel takes (at most 64 bytes) in the characters a hosts file line can hold. */
const HOSTNAME = /^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,62})$/;

export function checkContainerName(name: string): void {
  if (!CONTAINER_NAME.test(name)) {
    throw new FluxError('BAD_NAME', `the container name ${JSON.stringify(name)} is not valid.`, { hint: 'Use letters, digits, _ . and - (starting with a letter or digit).', exitCode: 125 });
  }
}

const HOSTNAME_HINT = 'Use letters, digits, _, . and - (starting with a letter or digit), at most 63 characters.';

export function checkHostname(hostname: string): void {
  if (!HOSTNAME.test(hostname)) throw new FluxError('BAD_HOSTNAME', `--hostname ${JSON.stringify(hostname)} is not a host name.`, { hint: HOSTNAME_HINT, exitCode: 125 });
}

/** A --network-alias: a name on a user network, a line of every member's /etc/hosts, so a host name too. */
export function checkAlias(alias: string): void {
  if (!HOSTNAME.test(alias)) throw new FluxError('BAD_NAME', `--network-alias ${JSON.stringify(alias)} is not a host name.`, { hint: HOSTNAME_HINT, exitCode: 125 });
}
