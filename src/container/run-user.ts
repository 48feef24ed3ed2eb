/** Who the command runs as: the image's user (or -u's, or keep-id's ids), with --group-add, checked against the ids mapped for the run. */
import { parseGroup, parsePasswd, resolveUser, type ResolvedUser } from '../image/user.js';
import { mappedCount, type IdMaps } from '../userns/idmap.js';
import { readLayerFile } from '../sandbox/layer-files.js';
import { addedGroups } from './group-add.js';
import type { RunOptions } from './run-types.js';
import { bad } from './run-error.js';

export function containerUser(lowers: string[], config: { User?: string }, o: RunOptions, maps: IdMaps | undefined): ResolvedUser {
  const passwd = parsePasswd(readLayerFile(lowers, 'etc/passwd') ?? '');
  const group = parseGroup(readLayerFile(lowers, 'etc/group') ?? '');
  const keep = maps?.keep;
  // keep-id runs the command as the kept ids unless -u says otherwise, as podman does.
  const user = resolveUser(o.user ?? (keep ? `${keep.uid}:${keep.gid}` : config.User), passwd, group);
  if (maps) {
    const max = maps.single ? 1 : Math.min(mappedCount(maps.uidRanges), mappedCount(maps.gidRanges));
    const high = Math.max(user.uid, user.gid, ...user.groups);
    if (high >= max) {
      const who = o.user !== undefined ? `the user ${o.user} of -u` : keep ? `the kept user ${keep.uid}:${keep.gid}` : `the image's user ${config.User}`;
      throw bad('ID_NOT_MAPPED', `${who} (id ${high}) lies outside the ${max} ids mapped for you.`,
        maps.single ? `Give yourself subordinate ids: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${maps.user.name}` : 'Enlarge your range in /etc/subuid and /etc/subgid.');
    }
    if (maps.single) user.groups = [];
  }
  if (o.groupAdd?.length) user.groups = [...new Set([...user.groups, ...addedGroups(o.groupAdd, group)])];
  if (maps && o.groupAdd?.length) {
    const max = maps.single ? 1 : mappedCount(maps.gidRanges);
    const high = Math.max(...user.groups);
    if (high >= max) throw bad('ID_NOT_MAPPED', `the group ${high} of --group-add lies outside the ${max} ids mapped for you.`, 'Give a group below that, or enlarge your range in /etc/subgid.');
    if (maps.single) throw bad('ID_NOT_MAPPED', '--group-add needs subordinate ids: only root exists in the sandbox without them.', `Give yourself subordinate ids: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${maps.user.name}`);
  }
  return user;
}
