/**
 * `--userns` for a run: the id maps the helper writes. Default: flux's map (root inside is the
 * user). keep-id: the user is itself inside (userns/keep-id.ts). host: real root only, which
 * never makes a user namespace anyway.
 */
import { FluxError } from '../errors.js';
import { idMapsFor, type IdMaps } from '../userns/idmap.js';
import { mapArgsFor, parseUserns } from '../userns/keep-id.js';
import type { OverlayChoice } from '../sandbox/rootfs.js';

const bad = (code: string, message: string, hint: string) => new FluxError(code, message, { hint, exitCode: 125 });

/** The maps of a run (undefined as real root), checked in full before anything starts. */
export function runIdMaps(userns: string | undefined, root: boolean, choice: OverlayChoice): IdMaps | undefined {
  const mode = parseUserns(userns ?? '', { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });
  if (mode.kind === 'host' && !root) {
    throw bad('BAD_USERNS', '--userns=host needs real root: an unprivileged user only ever has a user namespace of its own.', 'Drop --userns=host (your uid is root inside), or use --userns=keep-id to be yourself inside.');
  }
  if (root) return undefined;
  const maps = idMapsFor();
  if (mode.kind !== 'keep-id') return maps;
  if (maps.single) {
    throw bad('KEEP_ID_RANGE', '--userns=keep-id needs subordinate ids around yours, and /etc/subuid and /etc/subgid have none for you.', `Give yourself some: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${maps.user.name}`);
  }
  if (choice !== 'auto' && choice !== 'fuse') {
    throw bad('KEEP_ID_ROOTFS', `--userns=keep-id needs fuse-overlayfs to show the image's files with their own owners, and FLUX_OVERLAY=${choice} rules it out.`, 'Unset FLUX_OVERLAY (or set it to fuse).');
  }
  const kept = { ...maps, keep: mode.keep };
  // A kept id above the subordinate range is refused here, in one sentence.
  mapArgsFor(kept);
  return kept;
}
