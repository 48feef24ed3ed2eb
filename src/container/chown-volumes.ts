/**
 * podman's `:U`: the volume's host path (recursively) becomes the container user's, so a
 * container user other than root can write it. Done in the user namespace, where the container's
 * ids are the ones flux maps, before the container starts.
 */
import { existsSync } from 'node:fs';
import { FluxError } from '../errors.js';
import { isRealRoot, runInUserNamespace } from '../userns/userns.js';
import type { VolumeRequest } from './volume-options.js';

/** `uid`/`gid` are ids as the namespace of runInUserNamespace sees them (real ids as real root). */
export async function chownVolumes(volumes: VolumeRequest[], uid: number, gid: number): Promise<void> {
  for (const v of volumes) {
    if (!v.chown) continue;
    const argv = ['chown', '-R', `${uid}:${gid}`, '--', v.host];
    let code: number;
    try {
      code = (await runInUserNamespace(argv, { stdio: ['ignore', 'ignore', 'ignore'], quiet: true })).code;
    } catch {
      code = 1;
    }
    if (code !== 0) {
      const why = existsSync(v.host) ? 'holds files you cannot change the owner of' : 'does not exist';
      throw new FluxError('BAD_VOLUME', `the volume ${v.host} (option U) ${why}, so it cannot be given to the container's user ${uid}:${gid}.`, {
        hint: isRealRoot() ? 'Check the path.' : 'Give it only a directory you own (and its files), or drop :U.',
        exitCode: 125,
      });
    }
  }
}
