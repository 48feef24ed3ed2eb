/**
 * `--tmpfs PATH[:OPTIONS]` as docker and podman take it (size=64m,mode=1770,noexec,ro). Only
 * options whose meaning is plain are passed to the kernel; the mount is always nosuid and nodev.
 */
import { FluxError } from '../errors.js';
import type { TmpfsSpec } from '../sandbox/plan.js';
import { containerPath } from './volume-options.js';

const HINT = 'Write --tmpfs /path[:size=64m,mode=1777,noexec,ro].';

/** size=, mode=, nr_inodes= for the file system; ro and noexec for the mount. */
export function tmpfsSpec(path: string, options: string[], what: string): TmpfsSpec {
  const fs: string[] = [];
  let mode = '1777';
  let readOnly = false;
  let noexec = false;
  for (const o of options) {
    if (o === '') continue;
    if (/^size=\d+[kmgKMG%]?$/.test(o) || /^nr_inodes=\d+[kmgKMG]?$/.test(o)) fs.push(o);
    else if (/^mode=[0-7]{3,4}$/.test(o)) mode = o.slice(5);
    else if (o === 'ro') readOnly = true;
    else if (o === 'rw') readOnly = false;
    else if (o === 'noexec') noexec = true;
    else if (o === 'exec' || o === 'nosuid' || o === 'nodev' || o === 'rprivate' || o === 'private') continue;
    else throw new FluxError('BAD_TMPFS', `the tmpfs option "${o}" of ${what} is not supported.`, { hint: HINT, exitCode: 125 });
  }
  return { path: containerPath(path, what), options: [`mode=${mode}`, ...fs].join(','), ...(readOnly ? { readOnly } : {}), ...(noexec ? { noexec } : {}) };
}

export function parseTmpfs(spec: string): TmpfsSpec {
  const colon = spec.indexOf(':');
  const path = colon < 0 ? spec : spec.slice(0, colon);
  if (!path.startsWith('/')) throw new FluxError('BAD_TMPFS', `--tmpfs ${spec} is not an absolute path.`, { hint: HINT, exitCode: 125 });
  return tmpfsSpec(path, colon < 0 ? [] : spec.slice(colon + 1).split(','), `--tmpfs ${spec}`);
}
