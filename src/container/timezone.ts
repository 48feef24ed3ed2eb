/**
 * `--tz ZONE|local` (podman): the container's /etc/localtime becomes the host's zone file, bound
 * read-only, so a program's local time is the zone's even when the image carries no zoneinfo.
 */
import { existsSync, realpathSync } from 'node:fs';
import { FluxError } from '../errors.js';
import type { VolumeRequest } from './volume-options.js';

const ZONEINFO = '/usr/share/zoneinfo';

export function timezoneVolume(tz: string): VolumeRequest {
  let file: string;
  if (tz === 'local') {
    file = '/etc/localtime';
    if (!existsSync(file)) throw new FluxError('BAD_TZ', '--tz local: this host has no /etc/localtime.', { hint: 'Name the zone instead, e.g. --tz Europe/Berlin.', exitCode: 125 });
  } else {
    // A zone name is a path under zoneinfo: letters, digits, _+- and slashes, never `..`.
    if (!/^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/.test(tz)) throw new FluxError('BAD_TZ', `--tz ${tz} is not a time zone name.`, { hint: 'Write --tz Area/City (e.g. Europe/Berlin), UTC or local.', exitCode: 125 });
    file = `${ZONEINFO}/${tz}`;
    if (!existsSync(file)) {
      throw new FluxError('BAD_TZ', `the time zone ${tz} of --tz is not in this host's ${ZONEINFO}.`, { hint: 'Check the name (e.g. Europe/Berlin), or install the zone data: sudo apt-get install tzdata.', exitCode: 125 });
    }
  }
  return { host: realpathSync(file), container: '/etc/localtime', readOnly: true };
}
