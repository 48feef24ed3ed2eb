/** The first subordinate range of a user, as /etc/subuid lists it (the unpacker maps it from 1 up). */
import { parseSubIds, type SubRange } from '../userns/idmap.js';

export type IdRange = SubRange;

/** The first range for the user in an /etc/subuid-format file (by name or by numeric id). */
export function subordinateRange(text: string, user: { name: string; id: number }): IdRange | undefined {
  return parseSubIds(text, { name: user.name, uid: user.id }).find((r) => r.start > 0);
}
