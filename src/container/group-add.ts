/** `--group-add GROUP`: more supplementary groups for the command, by gid or by name in the image's /etc/group. */
import { FluxError } from '../errors.js';
import type { GroupEntry } from '../image/user.js';

export function addedGroups(list: string[], group: GroupEntry[]): number[] {
  return list.map((g) => {
    if (/^\d{1,10}$/.test(g) && Number(g) < 2 ** 32 - 1) return Number(g);
    const found = group.find((e) => e.name === g);
    if (!found) {
      throw new FluxError('BAD_GROUP', `--group-add ${g}: the image's /etc/group has no such group.`, { hint: 'Give a group of the image, or its number (--group-add 1000).', exitCode: 125 });
    }
    return found.gid;
  });
}
