/** Logging in to a registry: check the credentials against it, then save them where docker and podman look. */
import { FluxError } from '../errors.js';
import { RegistryClient } from '../registry/client.js';
import { apiHost, isInsecureHost, normalizeRegistryHost, registriesConfig } from '../registry/config.js';
import { storeCredentials, type Credentials } from '../registry/credentials.js';
import { RegistryError } from '../registry/errors.js';

export interface LoginOptions {
  registry: string;
  username: string;
  password: string;
  insecure?: boolean;
}

const HOST_RE = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;

/** `https://index.docker.io/v1/`, `docker.io`, `host:5000/` → the registry name. */
export function loginRegistryName(input: string): string {
  const reg = normalizeRegistryHost(input.trim());
  if (!HOST_RE.test(reg)) {
    throw new FluxError('BAD_REGISTRY', `"${input}" is not a registry host name.`, { hint: 'Give a host with an optional port, e.g. `flux login registry.example.com:5000`.', exitCode: 125 });
  }
  return reg;
}

/**
 * Proves the credentials work: a token bought with them for a Bearer registry, an authorised
 * `/v2/` for a Basic one. Returns false when the registry asks for no login at all.
 */
export async function verifyCredentials(registry: string, creds: Credentials, insecure = false): Promise<boolean> {
  // An insecure LAN registry of podman's registries.conf is one for `flux login` too.
  const client = new RegistryClient({ host: apiHost(registry), authHost: registry, insecure: insecure || isInsecureHost(registry, await registriesConfig()), mirror: false }, {
    registry,
    repository: 'flux-login-check',
    credentials: creds,
  });
  try {
    return await client.checkCredentials();
  } catch (err) {
    if (err instanceof RegistryError && (err.code === 'UNAUTHORIZED' || err.code === 'DENIED')) throw wrongCredentials(registry);
    if (err instanceof RegistryError && err.code === 'NETWORK') {
      throw new RegistryError('NETWORK', err.message, { hint: 'Check the registry host name and port, and your network connection; nothing was saved.', cause: err.cause });
    }
    throw err;
  }
}

function wrongCredentials(registry: string): FluxError {
  return new RegistryError('UNAUTHORIZED', `the registry ${registry} refused the user name or password.`, {
    hint: `Check them and run \`flux login ${registry}\` again.`,
    status: 401,
  });
}

/** Returns the file the credentials were written to, and whether the registry needed them. */
export async function login(opts: LoginOptions): Promise<{ path: string; needed: boolean }> {
  const registry = loginRegistryName(opts.registry);
  if (opts.username === '') throw new FluxError('BAD_LOGIN', 'the user name is empty.', { hint: 'Pass it with -u USER.', exitCode: 125 });
  if (opts.password === '') throw new FluxError('BAD_LOGIN', 'the password is empty.', { hint: 'Pass it with --password-stdin or -p, or type it at the prompt.', exitCode: 125 });
  const creds = { username: opts.username, password: opts.password };
  const needed = await verifyCredentials(registry, creds, opts.insecure);
  return { path: await storeCredentials(registry, creds), needed };
}
