/** Finding the system programs flux starts (slirp4netns, pasta, fuse-overlayfs) on $PATH. */
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';

const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin';

/**
 * The absolute path of an executable file on $PATH (or the usual directories when PATH is unset),
 * then in `alsoIn`.
 */
export function findExecutable(name: string, alsoIn: string[] = []): string | undefined {
  for (const dir of [...(process.env.PATH || DEFAULT_PATH).split(':'), ...alsoIn]) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      // Most directories of PATH lack it: they are skipped without an exception.
      if (!statSync(candidate, { throwIfNoEntry: false })?.isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // a directory we may not search, or a file we may not execute
    }
  }
  return undefined;
}
