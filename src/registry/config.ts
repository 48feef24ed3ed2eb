/**
 * Per-user registry settings: mirrors and insecure (plain HTTP / unverified TLS) hosts, read
 * from `$XDG_CONFIG_HOME/flux/registries.json` (default `~/.config/flux/registries.json`):
 *
 *   { "mirrors": { "docker.io": ["127.0.0.1:5000"] }, "insecure": ["myhost:5000"] }
 *
 * Mirrors are tried in order before the origin, as podman's registries.conf does.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { FluxError, errnoCode } from '../errors.js';
import type { Reference } from '../image/reference.js';
import type { ContainersRegistries, RegistryRule } from './containers-conf.js';

export interface RegistriesConfig {
  mirrors: Record<string, string[]>;
  insecure: string[];
  /** podman's registries.conf files (containers-conf.ts); flux's own settings win where both speak. */
  containers?: ContainersRegistries;
}

export interface Endpoint {
  /** Host and port requests go to, e.g. `registry-1.docker.io`, `127.0.0.1:5000`. */
  host: string;
  /** The registry name credentials are looked up under (the mirror's own host for a mirror). */
  authHost: string;
  /** Plain HTTP / unverified TLS allowed: loopback, listed as insecure, or `--insecure`. */
  insecure: boolean;
  mirror: boolean;
  /** The repository there, when a registries.conf location or mirror moves it (`mirror.example/hub/library/alpine`). */
  repository?: string;
}

export function registriesConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'flux', 'registries.json');
}

const HOST_RE = /^(?:[a-zA-Z0-9.-]+|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;

export function loadRegistriesConfig(path = registriesConfigPath()): RegistriesConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return { mirrors: {}, insecure: [] };
    throw new FluxError('CONFIG', `cannot read ${path}: ${(err as Error).message}.`, { hint: 'Fix its permissions or remove it.', exitCode: 125 });
  }
  const badFile = (why: string) => new FluxError('CONFIG', `${path} is invalid: ${why}.`, {
    hint: 'Write it as {"mirrors": {"docker.io": ["HOST[:PORT]"]}, "insecure": ["HOST[:PORT]"]}.',
    exitCode: 125,
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw badFile('it is not JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw badFile('it is not a JSON object');
  const o = json as { mirrors?: unknown; insecure?: unknown };
  const hostList = (v: unknown, what: string): string[] => {
    if (!Array.isArray(v) || !v.every((h) => typeof h === 'string' && HOST_RE.test(stripScheme(h)))) throw badFile(`${what} must be a list of HOST[:PORT]`);
    return v.map((h: string) => stripScheme(h));
  };
  const mirrors: Record<string, string[]> = {};
  if (o.mirrors !== undefined) {
    if (typeof o.mirrors !== 'object' || o.mirrors === null || Array.isArray(o.mirrors)) throw badFile('"mirrors" must be an object');
    for (const [reg, list] of Object.entries(o.mirrors)) mirrors[normalizeRegistryHost(reg)] = hostList(list, `"mirrors.${reg}"`);
  }
  const insecure = o.insecure === undefined ? [] : hostList(o.insecure, '"insecure"');
  return { mirrors, insecure };
}

function stripScheme(h: string): string {
  return h.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

/** `index.docker.io`, `registry-1.docker.io`, `https://index.docker.io/v1/` all mean docker.io. */
export function normalizeRegistryHost(h: string): string {
  const host = h.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}

/** Where requests for a registry name really go (docker.io's API lives on registry-1.docker.io). */
export function apiHost(registry: string): string {
  return registry === 'docker.io' ? 'registry-1.docker.io' : registry;
}

/** 127.0.0.0/8, ::1 and localhost: plain HTTP there cannot be intercepted off the machine. */
export function isLoopbackHost(host: string): boolean {
  let h = host;
  const bracket = /^\[(.*)\](?::\d+)?$/.exec(h);
  if (bracket) h = bracket[1]!;
  else if (h.split(':').length === 2) h = h.split(':')[0]!;
  h = h.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1';
  return false;
}

let cached: RegistriesConfig | undefined;

function config(): RegistriesConfig {
  cached ??= loadRegistriesConfig();
  return cached;
}

let loaded: Promise<RegistriesConfig> | undefined;

/** flux's registries.json with podman's registries.conf files beside it, read once per process. */
export function registriesConfig(): Promise<RegistriesConfig> {
  loaded ??= (async () => {
    const { loadContainersRegistries } = await import('./containers-conf.js');
    return { ...config(), containers: await loadContainersRegistries() };
  })();
  return loaded;
}

/** The registries.conf rule for a name (`host/repository`): the longest matching prefix. */
export function registryRule(name: string, cfg: RegistriesConfig): RegistryRule | undefined {
  let best: RegistryRule | undefined;
  let bestLength = -1;
  for (const r of cfg.containers?.registries ?? []) {
    const p = r.prefix;
    let hit: boolean;
    if (p.startsWith('*.')) {
      // `*.example.com` matches the hosts under example.com, whatever the repository.
      const host = name.split('/')[0]!;
      hit = host.endsWith(p.slice(1));
    } else {
      hit = name === p || name.startsWith(`${p}/`);
    }
    if (hit && p.length > bestLength) {
      best = r;
      bestLength = p.length;
    }
  }
  return best;
}

export function isInsecureHost(host: string, cfg: RegistriesConfig = config()): boolean {
  if (isLoopbackHost(host) || cfg.insecure.includes(host) || cfg.insecure.includes(normalizeRegistryHost(host))) return true;
  const rules = cfg.containers?.registries ?? [];
  return rules.some((r) => r.insecure && r.location === host) || rules.some((r) => r.mirrors.some((m) => m.insecure && m.location === host));
}

/** A `host/repository` name split, docker.io's API host and `library/` included. */
function hostAndRepository(name: string): { host: string; registry: string; repository: string } {
  const slash = name.indexOf('/');
  const registry = normalizeRegistryHost(slash === -1 ? name : name.slice(0, slash));
  let repository = slash === -1 ? '' : name.slice(slash + 1);
  if (registry === 'docker.io' && !repository.includes('/')) repository = `library/${repository}`;
  return { host: apiHost(registry), registry, repository };
}

function blocked(ref: Pick<Reference, 'registry' | 'repository'>, rule: RegistryRule): FluxError {
  return new FluxError('BLOCKED', `${ref.registry}/${ref.repository} is refused: its registry ${rule.prefix} is blocked in ${rule.file}.`, {
    hint: 'Pull it from another registry, or remove "blocked = true" there.',
    exitCode: 125,
  });
}

/**
 * The hosts to try for a reference, mirrors first, then the origin. flux's own registries.json
 * mirrors win over registries.conf's; a registries.conf `location` moves the origin (and the
 * repository under its prefix), and `blocked` refuses the pull.
 */
export function registryEndpoints(ref: Pick<Reference, 'registry'> & Partial<Pick<Reference, 'repository' | 'digest'>>, opts: { insecure?: boolean; config?: RegistriesConfig } = {}): Endpoint[] {
  const cfg = opts.config ?? config();
  const forced = opts.insecure === true;
  const own = cfg.mirrors[ref.registry];
  const name = `${ref.registry}/${ref.repository ?? ''}`;
  const rule = ref.repository === undefined ? undefined : registryRule(name, cfg);
  if (rule?.blocked) throw blocked({ registry: ref.registry, repository: ref.repository ?? '' }, rule);
  // The part of the name under the rule's prefix, re-rooted at a location.
  const moved = (location: string) => hostAndRepository(location + name.slice(rule!.prefix.startsWith('*.') ? name.indexOf('/') : rule!.prefix.length));
  const mirrors: Endpoint[] = own
    ? own.map((m) => ({ host: m, authHost: m, insecure: forced || isInsecureHost(m, cfg), mirror: true }))
    : (rule?.mirrors ?? [])
      .filter((m) => m.pullFrom === 'all' || (m.pullFrom === 'digest-only') === (ref.digest !== undefined))
      .map((m) => {
        const at = moved(m.location);
        return { host: at.host, authHost: at.registry, insecure: forced || m.insecure || isInsecureHost(at.registry, cfg), mirror: true, repository: at.repository };
      });
  if (rule && !rule.prefix.startsWith('*.') && rule.location !== rule.prefix) {
    const at = moved(rule.location);
    return [...mirrors, { host: at.host, authHost: at.registry, insecure: forced || rule.insecure || isInsecureHost(at.registry, cfg), mirror: false, repository: at.repository }];
  }
  const host = apiHost(ref.registry);
  return [...mirrors, { host, authHost: ref.registry, insecure: forced || rule?.insecure === true || isInsecureHost(ref.registry, cfg), mirror: false }];
}
