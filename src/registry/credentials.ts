/**
 * Registry credentials in the files docker and podman use, so a login with either tool works
 * for flux and the other way round. Read order (podman's): `$REGISTRY_AUTH_FILE` alone when set;
 * else `$XDG_RUNTIME_DIR/containers/auth.json`, `~/.config/containers/auth.json`,
 * `~/.docker/config.json`. In each file `credHelpers[host]`, then `auths`, then `credsStore`.
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { FluxError, errnoCode } from '../errors.js';
import { normalizeRegistryHost } from './config.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface AuthFileEntry {
  auth?: string;
  identitytoken?: string;
  [k: string]: unknown;
}

export interface AuthFile {
  auths?: Record<string, AuthFileEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [k: string]: unknown;
}

function home(env: NodeJS.ProcessEnv): string {
  return env.HOME || homedir();
}

/** Every file credentials are read from, in order. */
export function authFilesForReading(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.REGISTRY_AUTH_FILE) return [env.REGISTRY_AUTH_FILE];
  const files: string[] = [];
  if (env.XDG_RUNTIME_DIR) files.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  files.push(join(env.XDG_CONFIG_HOME || join(home(env), '.config'), 'containers', 'auth.json'));
  files.push(join(home(env), '.docker', 'config.json'));
  return files;
}

/**
 * Where `flux login` writes: `$REGISTRY_AUTH_FILE`, else podman's `$XDG_RUNTIME_DIR/containers/auth.json`
 * in a login session, else docker's `~/.docker/config.json` (which outlives reboots).
 */
export function authFileForWriting(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json');
  return join(home(env), '.docker', 'config.json');
}

export async function readAuthFile(path: string): Promise<AuthFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new FluxError('AUTH_FILE', `cannot read the credentials file ${path}: ${(err as Error).message}.`, { hint: 'Fix its permissions or remove it.', exitCode: 125 });
  }
  if (text.trim() === '') return {};
  try {
    const json = JSON.parse(text) as unknown;
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not an object');
    return json as AuthFile;
  } catch {
    throw new FluxError('AUTH_FILE', `the credentials file ${path} is not valid JSON.`, { hint: 'Fix or remove it, then log in again with `flux login`.', exitCode: 125 });
  }
}

/** The docker.io key docker itself writes; podman writes plain `docker.io`. */
const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

/** Keys of `auths` to try for `registry/repository`, most specific first (containers-auth.json allows repo-scoped keys). */
function lookupKeys(registry: string, repository?: string): string[] {
  const keys: string[] = [];
  if (repository) {
    const parts = repository.split('/');
    for (let i = parts.length; i > 0; i--) keys.push(`${registry}/${parts.slice(0, i).join('/')}`);
  }
  keys.push(registry);
  return keys;
}

/** Whether an `auths`/`credHelpers` key names the whole registry (not one repository of it). */
function isHostKey(key: string, registry: string): boolean {
  return (key.includes('://') || !key.includes('/')) && normalizeRegistryHost(key) === registry;
}

function findEntry<T>(map: Record<string, T> | undefined, registry: string, repository?: string): T | undefined {
  if (!map || typeof map !== 'object') return undefined;
  for (const key of lookupKeys(registry, repository)) {
    if (Object.hasOwn(map, key)) return map[key];
  }
  // Keys written as URLs or with docker.io aliases (`https://index.docker.io/v1/`, `index.docker.io`).
  for (const [key, value] of Object.entries(map)) if (isHostKey(key, registry)) return value;
  return undefined;
}

function decodeAuth(auth: string, path: string, registry: string): Credentials {
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0) {
    throw new FluxError('AUTH_FILE', `the credentials for ${registry} in ${path} are malformed.`, { hint: `Log in again with \`flux login ${registry}\`.`, exitCode: 125 });
  }
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

function helperServer(registry: string): string {
  return registry === 'docker.io' ? DOCKER_HUB_KEY : registry;
}

/** Runs `docker-credential-NAME ACTION` with `input` on stdin. */
export function runCredentialHelper(name: string, action: 'get' | 'store' | 'erase', input: string, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
    return Promise.reject(new FluxError('AUTH_FILE', `"${name}" is not a valid credential helper name.`, { hint: 'Fix credsStore/credHelpers in your docker config.', exitCode: 125 }));
  }
  const program = `docker-credential-${name}`;
  return new Promise((resolve, reject) => {
    const child = spawn(program, [action], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000, env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', (err) => {
      reject(new FluxError('CREDENTIAL_HELPER', errnoCode(err) === 'ENOENT'
        ? `the credential helper ${program} named in your docker config is not installed.`
        : `the credential helper ${program} could not be run: ${err.message}.`, {
        hint: 'Install it, or remove it from credsStore/credHelpers in ~/.docker/config.json.',
        exitCode: 125,
        cause: err,
      }));
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.on('error', () => { /* the helper may exit without reading; its exit status tells */ });
    child.stdin.end(input);
  });
}

async function fromHelper(name: string, registry: string, env: NodeJS.ProcessEnv): Promise<Credentials | undefined> {
  const r = await runCredentialHelper(name, 'get', helperServer(registry), env);
  if (r.code !== 0) {
    if (/credentials not found/i.test(r.stdout + r.stderr)) return undefined;
    throw new FluxError('CREDENTIAL_HELPER', `the credential helper docker-credential-${name} failed for ${registry}: ${(r.stderr || r.stdout).trim().split('\n')[0] || `exit status ${r.code}`}.`, {
      hint: `Check the helper, or log in again with \`flux login ${registry}\`.`,
      exitCode: 125,
    });
  }
  let json: { Username?: unknown; Secret?: unknown };
  try {
    json = JSON.parse(r.stdout) as typeof json;
  } catch {
    throw new FluxError('CREDENTIAL_HELPER', `the credential helper docker-credential-${name} printed something other than JSON for ${registry}.`, { hint: 'Check the helper.', exitCode: 125 });
  }
  if (typeof json.Username !== 'string' || typeof json.Secret !== 'string' || json.Secret === '') return undefined;
  // `<token>` marks an identity token, which only the OAuth2 flow accepts; flux uses it as a password.
  return { username: json.Username, password: json.Secret };
}

/** Credentials for a registry (`docker.io`, `host:port`), or undefined for anonymous access. */
export async function lookupCredentials(registry: string, repository?: string, env: NodeJS.ProcessEnv = process.env): Promise<Credentials | undefined> {
  const reg = normalizeRegistryHost(registry);
  for (const path of authFilesForReading(env)) {
    const file = await readAuthFile(path);
    if (!file) continue;
    const helper = findEntry(file.credHelpers, reg);
    if (typeof helper === 'string' && helper !== '') return fromHelper(helper, reg, env);
    const entry = findEntry(file.auths, reg, repository);
    if (entry && typeof entry === 'object' && typeof entry.auth === 'string' && entry.auth !== '') return decodeAuth(entry.auth, path, reg);
    if (typeof file.credsStore === 'string' && file.credsStore !== '') {
      const c = await fromHelper(file.credsStore, reg, env);
      if (c) return c;
    }
  }
  return undefined;
}

async function writeAuthFile(path: string, file: AuthFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(file, null, '\t')}\n`);
    await fh.chmod(0o600);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

function keyFor(registry: string, path: string, env: NodeJS.ProcessEnv): string {
  // docker reads docker.io credentials only under its historical key.
  const dockerConfig = join(home(env), '.docker', 'config.json');
  return registry === 'docker.io' && path === dockerConfig ? DOCKER_HUB_KEY : registry;
}

/** Saves credentials where `flux login` writes (through the file's credential helper, if it names one). Returns the path. */
export async function storeCredentials(registry: string, creds: Credentials, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const reg = normalizeRegistryHost(registry);
  const path = authFileForWriting(env);
  const file = (await readAuthFile(path)) ?? {};
  const helper = findEntry(file.credHelpers, reg) ?? (typeof file.credsStore === 'string' && file.credsStore !== '' ? file.credsStore : undefined);
  const auths = { ...(typeof file.auths === 'object' && file.auths !== null ? file.auths : {}) };
  for (const k of Object.keys(auths)) if (isHostKey(k, reg)) delete auths[k];
  if (typeof helper === 'string' && helper !== '') {
    const r = await runCredentialHelper(helper, 'store', JSON.stringify({ ServerURL: helperServer(reg), Username: creds.username, Secret: creds.password }), env);
    if (r.code !== 0) {
      throw new FluxError('CREDENTIAL_HELPER', `the credential helper docker-credential-${helper} could not store the credentials for ${reg}: ${(r.stderr || r.stdout).trim().split('\n')[0]}.`, { hint: 'Check the helper.', exitCode: 125 });
    }
    auths[keyFor(reg, path, env)] = {};
  } else {
    auths[keyFor(reg, path, env)] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
  }
  await writeAuthFile(path, { ...file, auths });
  return path;
}

/** Removes the registry's credentials from the file `flux login` writes. Returns whether there were any. */
export async function eraseCredentials(registry: string, env: NodeJS.ProcessEnv = process.env): Promise<{ path: string; removed: boolean }> {
  const reg = normalizeRegistryHost(registry);
  const path = authFileForWriting(env);
  const file = await readAuthFile(path);
  if (!file) return { path, removed: false };
  const auths = { ...(typeof file.auths === 'object' && file.auths !== null ? file.auths : {}) };
  let removed = false;
  let wasHelperEntry = false;
  for (const k of Object.keys(auths)) {
    if (isHostKey(k, reg)) {
      wasHelperEntry ||= !auths[k]?.auth;
      delete auths[k];
      removed = true;
    }
  }
  const helper = findEntry(file.credHelpers, reg) ?? (typeof file.credsStore === 'string' && file.credsStore !== '' ? file.credsStore : undefined);
  if (typeof helper === 'string' && helper !== '' && (wasHelperEntry || findEntry(file.credHelpers, reg) !== undefined)) {
    const r = await runCredentialHelper(helper, 'erase', helperServer(reg), env);
    if (r.code === 0) removed = true;
  }
  if (removed) await writeAuthFile(path, { ...file, auths });
  return { path, removed };
}
