/**
 * Users and groups of an image, read from its /etc/passwd and /etc/group as plain files. Never
 * through NSS: the image's libraries must not run on the host (the docker cp CVE-2019-14271 pattern).
 */
import { FluxError } from '../errors.js';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups (the primary gid first). */
  groups: number[];
  home: string;
  name?: string;
}

const ID = /^\d+$/;

function id(s: string | undefined): number | undefined {
  if (s === undefined || !ID.test(s)) return undefined;
  const n = Number(s);
  return n <= 0xfffffffe ? n : undefined;
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    const uid = id(f[2]);
    const gid = id(f[3]);
    if (!f[0] || uid === undefined || gid === undefined) continue;
    out.push({ name: f[0], uid, gid, home: f[5] || '/', shell: f[6] ?? '' });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    const gid = id(f[2]);
    if (!f[0] || gid === undefined) continue;
    out.push({ name: f[0], gid, members: (f[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean) });
  }
  return out;
}

/**
 * docker's rules for `-u`/`User`: `name|uid[:group|gid]`. A name must exist in passwd; a numeric
 * uid need not (then gid 0 and HOME /). Supplementary groups are those listing the user by name.
 */
export function resolveUser(spec: string | undefined, passwd: PasswdEntry[], group: GroupEntry[]): ResolvedUser {
  const s = (spec ?? '').trim();
  const colon = s.indexOf(':');
  const userPart = colon < 0 ? s : s.slice(0, colon);
  const groupPart = colon < 0 ? undefined : s.slice(colon + 1);

  let entry: PasswdEntry | undefined;
  let uid: number;
  if (userPart === '') {
    uid = 0;
    entry = passwd.find((p) => p.uid === 0);
  } else if (ID.test(userPart)) {
    const n = id(userPart);
    if (n === undefined) throw badUser(s, `${userPart} is not a valid uid`);
    uid = n;
    entry = passwd.find((p) => p.uid === uid);
  } else {
    entry = passwd.find((p) => p.name === userPart);
    if (!entry) throw badUser(s, `no user named "${userPart}" in the image's /etc/passwd`);
    uid = entry.uid;
  }

  let gid = entry?.gid ?? 0;
  if (groupPart !== undefined && groupPart !== '') {
    if (ID.test(groupPart)) {
      const n = id(groupPart);
      if (n === undefined) throw badUser(s, `${groupPart} is not a valid gid`);
      gid = n;
    } else {
      const g = group.find((x) => x.name === groupPart);
      if (!g) throw badUser(s, `no group named "${groupPart}" in the image's /etc/group`);
      gid = g.gid;
    }
  }

  const groups = [gid];
  if (entry && groupPart === undefined) {
    for (const g of group) if (g.members.includes(entry.name) && !groups.includes(g.gid)) groups.push(g.gid);
  }
  return { uid, gid, groups, home: entry?.home || '/', ...(entry ? { name: entry.name } : {}) };
}

function badUser(spec: string, why: string): FluxError {
  return new FluxError('BAD_USER', `cannot run as user "${spec}": ${why}.`, {
    hint: 'Give -u a user of the image, or a numeric uid[:gid].',
    exitCode: 125,
  });
}
