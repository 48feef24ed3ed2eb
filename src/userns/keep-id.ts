/**
 * `--userns=keep-id[:uid=N,gid=N]` (podman): the user's own uid and gid are the same inside as
 * outside (or N), with the subordinate range around them, so what a container writes into a
 * volume as that user belongs to the user on the host.
 *
 * Inside ids 0…U-1 take the first U subordinate ids, U is the user, U+1… take the rest. The image's
 * layers are stored under the default map (0 → the user, k → the k-th subordinate id), so under
 * this map they would show other owners; fuse-overlayfs presents them with their own ids again
 * (its uidmapping), which is what keepIdFuseMapping computes.
 */
import { FluxError } from '../errors.js';
import { mapArgs, mappedCount, type IdMaps, type SubRange } from './idmap.js';

export type KeepId = NonNullable<IdMaps['keep']>;

/** One line of a map: `inside host count`. */
type Segment = [number, number, number];

/** Subordinate ids from index `from`, `count` of them, as host segments (the ranges in their order). */
function subSegments(ranges: SubRange[], from: number, count: number): [number, number][] {
  const out: [number, number][] = [];
  let skip = from;
  let left = count;
  for (const r of ranges) {
    if (left <= 0) break;
    if (skip >= r.count) {
      skip -= r.count;
      continue;
    }
    const n = Math.min(r.count - skip, left);
    out.push([r.start + skip, n]);
    left -= n;
    skip = 0;
  }
  return out;
}

/** The keep-id map's segments for one kind of id: `own` (the user's host id) shows as `inside`. */
export function keepIdSegments(own: number, inside: number, ranges: SubRange[]): Segment[] {
  const total = mappedCount(ranges) - 1;
  if (inside > total) {
    throw new FluxError('KEEP_ID_RANGE', `--userns=keep-id needs ${inside} subordinate ids below your id ${inside}, and you have ${total}.`, {
      hint: 'Enlarge your range in /etc/subuid and /etc/subgid (e.g. 65536 ids), or give keep-id:uid=N,gid=N with a smaller N.',
      exitCode: 125,
    });
  }
  const segs: Segment[] = [];
  let next = 0;
  for (const [host, n] of subSegments(ranges, 0, inside)) {
    segs.push([next, host, n]);
    next += n;
  }
  segs.push([inside, own, 1]);
  next = inside + 1;
  for (const [host, n] of subSegments(ranges, inside, total - inside)) {
    segs.push([next, host, n]);
    next += n;
  }
  return segs;
}

/** newuidmap/newgidmap arguments for the keep-id map. */
export function keepIdMapArgs(own: number, inside: number, ranges: SubRange[]): string[] {
  return keepIdSegments(own, inside, ranges).flatMap((s) => s.map(String));
}

/**
 * fuse-overlayfs's uidmapping: `SEEN:SHOWN:COUNT` triples, all joined by colons (its syntax), an
 * id it reads from the disk as SEEN+i shown as SHOWN+i. The layers' id k (default map) is seen
 * under the keep-id map as U for k = 0, k-1 for 1 ≤ k ≤ U and k above; each is shown as k again.
 */
export function keepIdFuseMapping(inside: number, ranges: SubRange[]): string {
  const total = mappedCount(ranges) - 1;
  if (inside === 0) return `0:0:${total + 1}`;
  const parts = [`${inside}:0:1`, `0:1:${inside}`];
  if (total > inside) parts.push(`${inside + 1}:${inside + 1}:${total - inside}`);
  return parts.join(':');
}

/**
 * The id a container id `id` has in the default map (what runInUserNamespace sees), for the
 * container's id under keep-id: how `:U` chowns a volume for a keep-id run.
 */
export function defaultIdOf(id: number, inside: number): number {
  if (id === inside) return 0;
  if (id < inside) return id + 1;
  return id;
}

/** `keep-id`, `keep-id:uid=N,gid=N` (either), `host`, or '' for flux's default map. */
export function parseUserns(raw: string, own: { uid: number; gid: number }): { kind: 'default' } | { kind: 'host' } | { kind: 'keep-id'; keep: KeepId } {
  const hint = 'Use --userns=keep-id[:uid=N,gid=N] or --userns=host (real root only).';
  if (raw === '' || raw === 'private') return { kind: 'default' };
  if (raw === 'host') return { kind: 'host' };
  const m = /^keep-id(?::(.*))?$/.exec(raw);
  if (!m) throw new FluxError('BAD_USERNS', `--userns=${raw} is not a user namespace mode flux has.`, { hint, exitCode: 125 });
  const keep: KeepId = { uid: own.uid, gid: own.gid };
  for (const opt of (m[1] ?? '').split(',').filter((o) => o !== '')) {
    const kv = /^(uid|gid)=(\d{1,10})$/.exec(opt);
    if (!kv || Number(kv[2]) > 2 ** 32 - 2) throw new FluxError('BAD_USERNS', `"${opt}" in --userns=${raw} is not uid=N or gid=N.`, { hint, exitCode: 125 });
    keep[kv[1] as 'uid' | 'gid'] = Number(kv[2]);
  }
  return { kind: 'keep-id', keep };
}

/** newuidmap and newgidmap arguments for `m`: keep-id's map, or the default one (0 → the user). */
export function mapArgsFor(m: IdMaps): { uid: string[]; gid: string[] } {
  if (m.keep) return { uid: keepIdMapArgs(m.user.uid, m.keep.uid, m.uidRanges), gid: keepIdMapArgs(m.user.gid, m.keep.gid, m.gidRanges) };
  return { uid: mapArgs(m.user.uid, m.uidRanges), gid: mapArgs(m.user.gid, m.gidRanges) };
}
