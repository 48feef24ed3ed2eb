import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** FLUX_STORE, else $XDG_DATA_HOME/flux, else ~/.local/share/flux (XDG base directory spec: relative values are ignored). */
export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FLUX_STORE) return resolve(env.FLUX_STORE);
  const xdg = env.XDG_DATA_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'flux');
  return join(env.HOME || homedir(), '.local', 'share', 'flux');
}
