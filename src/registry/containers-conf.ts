/**
 * podman's registry configuration (containers-registries.conf(5), version 2), so a user's working
 * podman set-up (mirrors, insecure LAN registries, search registries, short-name aliases) applies
 * to flux with no extra step:
 *
 * - the main file: `$CONTAINERS_REGISTRIES_CONF`, else `$XDG_CONFIG_HOME/containers/registries.conf`
 *   (default `~/.config/...`) when it exists, else `/etc/containers/registries.conf`;
 * - then the `*.conf` drop-ins of `/etc/containers/registries.conf.d/` and the user's
 *   `registries.conf.d/` (shortnames.conf among them), in name order, a user file shadowing a
 *   system one of the same name. A later file replaces the search list, a `[[registry]]` of the
 *   same prefix, and an alias of the same name.
 *
 * `FLUX_CONTAINERS_CONF_DIR` stands for `/etc/containers` (meant for tests, which must not touch
 * the machine's own files).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { FluxError, errnoCode } from '../errors.js';

export interface MirrorRule {
  location: string;
  insecure: boolean;
  /** podman's pull-from-mirror: `all` (default), `digest-only` or `tag-only`. */
  pullFrom: 'all' | 'digest-only' | 'tag-only';
}

export interface RegistryRule {
  /** What names it applies to: `example.com/team`, `*.example.com`. */
  prefix: string;
  /** Where those names really live (the prefix is replaced by it); the prefix itself when absent. */
  location: string;
  insecure: boolean;
  blocked: boolean;
  mirrors: MirrorRule[];
  /** The file that said so, for messages. */
  file: string;
}

export interface ContainersRegistries {
  /** `unqualified-search-registries`; undefined when no file sets it. */
  search?: string[];
  searchFile?: string;
  registries: RegistryRule[];
  /** Short name → fully qualified name, from `[aliases]`. */
  aliases: Map<string, string>;
  /** The file each alias came from. */
  aliasFiles?: Map<string, string>;
  /** Every file read, in order. */
  files: string[];
}

export function containersConfDirs(env: NodeJS.ProcessEnv = process.env): { system: string; user: string } {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return { system: env.FLUX_CONTAINERS_CONF_DIR || '/etc/containers', user: join(base, 'containers') };
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new FluxError('CONFIG', `cannot read ${file}: ${(err as Error).message}.`, { hint: 'Fix its permissions or remove it.', exitCode: 125 });
  }
}

function dropIns(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  try {
    for (const name of readdirSync(dir)) if (name.endsWith('.conf')) out.set(name, join(dir, name));
  } catch {
    // No drop-in directory: nothing to add.
  }
  return out;
}

/** The files podman would read, in the order their settings apply. */
export function containersConfFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const { system, user } = containersConfDirs(env);
  const userMain = join(user, 'registries.conf');
  const main = env.CONTAINERS_REGISTRIES_CONF || (statSync(userMain, { throwIfNoEntry: false }) ? userMain : join(system, 'registries.conf'));
  const drop = new Map([...dropIns(join(system, 'registries.conf.d')), ...dropIns(join(user, 'registries.conf.d'))]);
  return [main, ...[...drop.keys()].sort().map((k) => drop.get(k)!)];
}

function invalid(file: string, why: string): FluxError {
  return new FluxError('CONFIG', `${file} is invalid: ${why}.`, {
    hint: 'Fix it as containers-registries.conf(5) describes (podman reads it too), or set FLUX_CONTAINERS_CONF_DIR to a directory without it.',
    exitCode: 125,
  });
}

type Table = Record<string, unknown>;

const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(file: string, t: Table, key: string, what: string): string | undefined {
  const v = t[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(file, `${what} ${key} must be a string`);
  return v.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

function bool(file: string, t: Table, key: string, what: string): boolean {
  const v = t[key];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw invalid(file, `${what} ${key} must be true or false`);
  return v;
}

function strList(file: string, v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw invalid(file, `${what} must be a list of strings`);
  return v.map((s: string) => s.replace(/\/+$/, ''));
}

function pullFrom(file: string, t: Table): MirrorRule['pullFrom'] {
  const v = t['pull-from-mirror'];
  if (v === undefined || v === '' || v === 'all') return 'all';
  if (v === 'digest-only' || v === 'tag-only') return v;
  throw invalid(file, 'pull-from-mirror must be "all", "digest-only" or "tag-only"');
}

function registryRule(file: string, t: unknown): RegistryRule {
  if (!isTable(t)) throw invalid(file, '[[registry]] must be a table');
  const location = str(file, t, 'location', '[[registry]]') ?? '';
  const prefix = str(file, t, 'prefix', '[[registry]]') || location;
  if (prefix === '') throw invalid(file, 'a [[registry]] has neither prefix nor location');
  const digestOnly = bool(file, t, 'mirror-by-digest-only', '[[registry]]');
  const mirrors = t.mirror === undefined ? [] : Array.isArray(t.mirror) ? t.mirror : [t.mirror];
  return {
    prefix,
    location: location || prefix,
    insecure: bool(file, t, 'insecure', '[[registry]]'),
    blocked: bool(file, t, 'blocked', '[[registry]]'),
    mirrors: mirrors.map((m: unknown) => {
      if (!isTable(m)) throw invalid(file, '[[registry.mirror]] must be a table');
      const loc = str(file, m, 'location', '[[registry.mirror]]');
      if (!loc) throw invalid(file, `a [[registry.mirror]] of ${prefix} has no location`);
      const from = pullFrom(file, m);
      return { location: loc, insecure: bool(file, m, 'insecure', '[[registry.mirror]]'), pullFrom: digestOnly && from === 'all' ? 'digest-only' : from };
    }),
    file,
  };
}

/** Applies one file's settings over `into` (a later file wins where both speak). */
function apply(into: ContainersRegistries, file: string, doc: Table): void {
  into.files.push(file);
  if (doc['unqualified-search-registries'] !== undefined) {
    into.search = strList(file, doc['unqualified-search-registries'], 'unqualified-search-registries');
    into.searchFile = file;
  }
  // Version 1 ([registries.search] registries = [...], and .insecure / .block likewise).
  const v1 = doc.registries;
  if (isTable(v1)) {
    const list = (k: string) => (isTable(v1[k]) && (v1[k] as Table).registries !== undefined ? strList(file, (v1[k] as Table).registries, `[registries.${k}] registries`) : []);
    if (isTable(v1.search)) {
      into.search = list('search');
      into.searchFile = file;
    }
    for (const host of list('insecure')) upsert(into, { prefix: host, location: host, insecure: true, blocked: false, mirrors: [], file });
    for (const host of list('block')) upsert(into, { prefix: host, location: host, insecure: false, blocked: true, mirrors: [], file });
  }
  if (doc.registry !== undefined) {
    if (!Array.isArray(doc.registry)) throw invalid(file, 'registry must be written as [[registry]] tables');
    for (const t of doc.registry) upsert(into, registryRule(file, t));
  }
  if (doc.aliases !== undefined) {
    if (!isTable(doc.aliases)) throw invalid(file, '[aliases] must be a table');
    for (const [name, target] of Object.entries(doc.aliases)) {
      if (typeof target !== 'string') throw invalid(file, `the alias "${name}" must be a string`);
      // podman: an empty value removes an alias an earlier file set.
      if (target === '') into.aliases.delete(name);
      else {
        into.aliases.set(name, target);
        (into.aliasFiles ??= new Map()).set(name, file);
      }
    }
  }
}

function upsert(into: ContainersRegistries, rule: RegistryRule): void {
  const i = into.registries.findIndex((r) => r.prefix === rule.prefix);
  if (i === -1) into.registries.push(rule);
  else into.registries[i] = rule;
}

/** Where the parsed settings are kept between runs: `$XDG_CACHE_HOME/flux` (default `~/.cache/flux`). */
function cachePath(env: NodeJS.ProcessEnv): string | undefined {
  // A home that does not exist (HOME=/nonexistent, as system users have) is never made.
  const base = env.XDG_CACHE_HOME || (env.HOME && existsSync(env.HOME) ? join(env.HOME, '.cache') : '');
  return base ? join(base, 'flux', 'containers-registries.json') : undefined;
}

interface Cached {
  key: string;
  value: Omit<ContainersRegistries, 'aliases' | 'aliasFiles'> & { aliases: [string, string][]; aliasFiles: [string, string][] };
}

function readCache(file: string | undefined, key: string): ContainersRegistries | undefined {
  if (!file) return undefined;
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as Cached;
    if (c.key !== key) return undefined;
    return { ...c.value, aliases: new Map(c.value.aliases), aliasFiles: new Map(c.value.aliasFiles) };
  } catch {
    return undefined;
  }
}

function writeCache(file: string | undefined, key: string, conf: ContainersRegistries): void {
  if (!file) return;
  const value = { ...conf, aliases: [...conf.aliases], aliasFiles: [...(conf.aliasFiles ?? [])] };
  try {
    mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify({ key, value } satisfies Cached), { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    // Only a speed-up: a read-only or full home changes nothing else.
  }
}

/**
 * podman's registry settings, merged from every file it would read; empty when there are none.
 * A short name is looked up on every `flux run alpine`: loading the TOML parser and parsing
 * Debian's shortnames.conf costs some 20 ms there, so the result is kept in the user's cache
 * directory, keyed by each file's identity, size and modification time.
 */
export async function loadContainersRegistries(env: NodeJS.ProcessEnv = process.env): Promise<ContainersRegistries> {
  const out: ContainersRegistries = { registries: [], aliases: new Map(), files: [] };
  const present = containersConfFiles(env).flatMap((f) => {
    const st = statSync(f, { throwIfNoEntry: false });
    return st ? [{ file: f, id: `${f}:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}` }] : [];
  });
  if (present.length === 0) return out;
  const key = present.map((p) => p.id).join('\n');
  const cache = cachePath(env);
  const kept = readCache(cache, key);
  if (kept) return kept;
  const texts = present.map((p) => [p.file, readText(p.file)] as const).filter((e): e is readonly [string, string] => e[1] !== undefined);
  // The TOML parser only loads when there is a file to parse: most runs have none.
  const { parse } = await import('smol-toml');
  for (const [file, text] of texts) {
    let doc: Table;
    try {
      doc = parse(text) as Table;
    } catch (err) {
      throw invalid(file, `it is not valid TOML (${(err as Error).message.split('\n')[0]})`);
    }
    apply(out, file, doc);
  }
  writeCache(cache, key, out);
  return out;
}
