import { readFileSync, accessSync, constants } from 'node:fs';
import { userInfo } from 'node:os';
import { FluxError } from '../errors.js';

/** One line of /etc/subuid or /etc/subgid: `start` … `start+count-1` belong to the user. */
export interface SubRange {
  start: number;
  count: number;
}

export interface IdUser {
  name: string;
  uid: number;
  gid: number;
}

/** How the user's ids map into the namespace: 0 → the user, 1… → the subordinate ranges. */
export interface IdMaps {
  user: IdUser;
  uidRanges: SubRange[];
  gidRanges: SubRange[];
  /** No subordinate ranges: only root exists in the namespace (setgroups denied). */
  single: boolean;
  /** --userns=keep-id: the user's ids show as these inside (keep-id.ts), not as 0. */
  keep?: { uid: number; gid: number };
}

/** Parse /etc/subuid-style text; lines name the user by name or by numeric uid. */
export function parseSubIds(text: string, user: { name: string; uid: number }): SubRange[] {
  const out: SubRange[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [who, start, count] = line.split(':');
    if (who !== user.name && who !== String(user.uid)) continue;
    const s = Number(start);
    const c = Number(count);
    if (!Number.isInteger(s) || !Number.isInteger(c) || s < 0 || c <= 0) continue;
    out.push({ start: s, count: c });
  }
  return out;
}

function readRanges(file: string, user: IdUser): SubRange[] {
  try {
    return parseSubIds(readFileSync(file, 'utf8'), user);
  } catch {
    return [];
  }
}

export function currentUser(): IdUser {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  let name = process.env.USER ?? String(uid);
  try {
    name = userInfo().username;
  } catch {
    // no passwd entry (e.g. a bare container uid): the numeric form still matches /etc/subuid
  }
  return { name, uid, gid };
}

export function subIdHint(name: string): string {
  return `sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${name}`;
}

/** The maps for `user` (default: whoever runs flux). */
export function idMapsFor(user: IdUser = currentUser(), files = { subuid: '/etc/subuid', subgid: '/etc/subgid' }): IdMaps {
  const uidRanges = readRanges(files.subuid, user);
  const gidRanges = readRanges(files.subgid, user);
  const single = uidRanges.length === 0 || gidRanges.length === 0;
  if (!single) requireTool('newuidmap');
  if (!single) requireTool('newgidmap');
  return { user, uidRanges: single ? [] : uidRanges, gidRanges: single ? [] : gidRanges, single };
}

/** Absolute path of newuidmap/newgidmap (the helper execs them without a PATH search). */
export function toolPath(name: string): string {
  requireTool(name);
  return found.get(name)!;
}

const found = new Map<string, string>();

function requireTool(name: string): void {
  if (found.has(name)) return;
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin']) {
    try {
      accessSync(`${dir}/${name}`, constants.X_OK);
      found.set(name, `${dir}/${name}`);
      return;
    } catch {
      // try the next directory
    }
  }
  throw new FluxError('NO_NEWUIDMAP', `${name} is not installed, so flux cannot map your subordinate ids into the sandbox.`, {
    hint: 'Install it: `sudo apt-get install uidmap` (Debian/Ubuntu) or `sudo dnf install shadow-utils`.',
  });
}

/** newuidmap/newgidmap arguments: `0 uid 1` then each range from 1 upwards. */
export function mapArgs(own: number, ranges: SubRange[]): string[] {
  const args = ['0', String(own), '1'];
  let next = 1;
  for (const r of ranges) {
    args.push(String(next), String(r.start), String(r.count));
    next += r.count;
  }
  return args;
}

/** Highest id + 1 that exists inside the namespace. */
export function mappedCount(ranges: SubRange[]): number {
  return 1 + ranges.reduce((n, r) => n + r.count, 0);
}

export function singleMapWarning(name: string): string {
  return `flux: warning: no subordinate ids for ${name} in /etc/subuid and /etc/subgid: only root exists in the sandbox and files of other owners become root's. To fix: ${subIdHint(name)}\n`;
}

/** The one sentence for a failed newuidmap/newgidmap. */
export function mapFailure(tool: string, stderr: string, user: IdUser): FluxError {
  const msg = stderr.trim().split('\n').pop() ?? '';
  if (/write to [ug]id_map failed/.test(stderr)) {
    return new FluxError('IDMAP', `${tool} could not write the id map (${msg}).`, {
      hint: `${tool} needs its setuid bit or file capabilities: \`sudo chmod u+s /usr/bin/${tool}\` or \`sudo setcap cap_set${tool === 'newuidmap' ? 'uid' : 'gid'}+ep /usr/bin/${tool}\`.`,
    });
  }
  if (/not allowed|range|subuid|subgid/i.test(stderr)) {
    return new FluxError('IDMAP', `${tool} refused the subordinate id range of ${user.name} (${msg}).`, {
      hint: `Check /etc/subuid and /etc/subgid, e.g. \`${subIdHint(user.name)}\`.`,
    });
  }
  return new FluxError('IDMAP', `${tool} failed: ${msg || 'unknown error'}.`, {
    hint: `Check /etc/subuid and /etc/subgid for ${user.name} and that ${tool} is setuid root.`,
  });
}

/** The one sentence for a kernel that refuses unprivileged user namespaces. */
export function usernsRefused(errno: number): FluxError {
  const why = errno === 28 ? 'the user namespace limit is 0 (user.max_user_namespaces)' : 'the kernel refused to create a user namespace';
  return new FluxError('USERNS', `${why}, so flux cannot build an unprivileged sandbox.`, {
    hint:
      'Allow unprivileged user namespaces: `sudo sysctl -w kernel.unprivileged_userns_clone=1` (Debian), ' +
      '`sudo sysctl -w user.max_user_namespaces=15000`, or on Ubuntu 23.10+ `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (or an AppArmor profile for flux).',
  });
}
