/**
 * Short names (`busybox`, `team/app:1.0`: no registry host) under podman's registries.conf: an
 * `[aliases]` entry names the one image meant; otherwise `unqualified-search-registries` are
 * tried in order, and the first that has the image is used. With neither, a short name means
 * docker.io, as docker has it.
 */
import type { ContainersRegistries } from './containers-conf.js';
import { splitShortName } from '../image/reference.js';

export { splitShortName };

export interface ShortNameResolution {
  /** Fully qualified names to try, in order. */
  candidates: string[];
  via: 'alias' | 'search';
  /** The file that configured it, for messages. */
  file: string;
}

export function resolveShortName(input: string, conf: ContainersRegistries): ShortNameResolution | undefined {
  const short = splitShortName(input);
  if (!short) return undefined;
  const key = conf.aliases.has(short.name) ? short.name : short.name.replace(/^library\//, '');
  const alias = conf.aliases.get(key);
  if (alias !== undefined) return { candidates: [`${alias}${short.suffix}`], via: 'alias', file: conf.aliasFiles?.get(key) ?? '' };
  if (conf.search && conf.search.length > 0) {
    return { candidates: conf.search.map((r) => `${r}/${short.name}${short.suffix}`), via: 'search', file: conf.searchFile ?? '' };
  }
  return undefined;
}

/** The short-name resolution for a name as typed, reading the configuration only when the name is short. */
export async function shortNameFor(input: string): Promise<ShortNameResolution | undefined> {
  if (!splitShortName(input)) return undefined;
  const { registriesConfig } = await import('./config.js');
  const conf = (await registriesConfig()).containers;
  return conf ? resolveShortName(input, conf) : undefined;
}
