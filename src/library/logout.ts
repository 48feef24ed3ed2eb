/** Logging out: forget a registry's credentials in the file `flux login` writes. */
import { FluxError } from '../errors.js';
import { authFilesForReading, eraseCredentials, lookupCredentials } from '../registry/credentials.js';
import { loginRegistryName } from './login.js';

export async function logout(registryInput: string): Promise<string> {
  const registry = loginRegistryName(registryInput);
  const { path, removed } = await eraseCredentials(registry);
  if (removed) return path;
  const elsewhere = await lookupCredentials(registry).catch(() => undefined);
  if (elsewhere) {
    const files = authFilesForReading().filter((f) => f !== path).join(', ');
    throw new FluxError('NOT_LOGGED_IN', `flux holds no credentials for ${registry} in ${path}; the ones it uses come from another file (${files}) or a credential helper.`, {
      hint: 'Remove them with the tool that wrote them (`docker logout` or `podman logout`).',
      exitCode: 125,
    });
  }
  throw new FluxError('NOT_LOGGED_IN', `you are not logged in to ${registry}.`, { hint: 'Check the registry name (`flux logout` forgets only logins flux stored).', exitCode: 125 });
}
