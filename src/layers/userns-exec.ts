/**
 * How the unpack worker enters the user's mapped user namespace: util-linux `unshare`, which
 * maps the user to root and the user's /etc/subuid and /etc/subgid ranges to 1..N through the
 * setuid newuidmap/newgidmap. Without ranges it falls back to a single-id map (the user as
 * root only), and the unpacker gives files of other owners to root, with a warning.
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';

export interface IdRange {
  start: number;
  count: number;
}

/** The first range for the user in an /etc/subuid-format file (by name or by numeric id). */
export function subordinateRange(text: string, user: { name: string; id: number }): IdRange | undefined {
  for (const line of text.split('\n')) {
    const [who, start, count] = line.trim().split(':');
    if (who !== user.name && who !== String(user.id)) continue;
    const s = Number(start);
    const c = Number(count);
    if (Number.isSafeInteger(s) && Number.isSafeInteger(c) && s > 0 && c > 0) return { start: s, count: c };
  }
  return undefined;
}

function rangeOf(file: string, user: { name: string; id: number }): IdRange | undefined {
  try {
    return subordinateRange(readFileSync(file, 'utf8'), user);
  } catch {
    return undefined;
  }
}

export interface UsernsPlan {
  /** The argv prefix that runs a command as root in the mapped namespace. */
  prefix: string[];
  /** Only the user itself is mapped. */
  singleId: boolean;
}

export function usernsPlan(): UsernsPlan {
  const me = whoami();
  const uidRange = rangeOf('/etc/subuid', { name: me.username, id: me.uid });
  const gidRange = rangeOf('/etc/subgid', { name: me.username, id: me.uid }); // subgid is keyed by user too
  const prefix = ['unshare', '--user', '--map-root-user'];
  if (!uidRange || !gidRange) return { prefix, singleId: true };
  prefix.push(`--map-users=${uidRange.start},1,${uidRange.count}`, `--map-groups=${gidRange.start},1,${gidRange.count}`);
  return { prefix, singleId: false };
}

function whoami(): { username: string; uid: number } {
  const uid = process.getuid?.() ?? 0;
  try {
    return { username: userInfo().username, uid };
  } catch {
    // A uid without a passwd entry: /etc/subuid may still list it by number.
    return { username: String(uid), uid };
  }
}
