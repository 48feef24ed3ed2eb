/** `flux info`: the host probe with flux's own places (store, runtime directory) and Node's version. */
import { existsSync } from 'node:fs';
import { defaultStoreRoot, diskUsage } from '../../store/index.js';
import { probeHost, type HostProbe, type Missing } from '../container/host-info.js';
import { runtimeDir } from '../runtime-dir.js';
import type { FluxOptions } from './api-types.js';

export type { Missing };

export interface FluxInfo extends HostProbe {
  node: string;
  store: { path: string; exists: boolean; sizeBytes: number };
  runtimeDir: string | null;
}

export async function machineInfo(o: Readonly<FluxOptions>): Promise<FluxInfo> {
  const host = probeHost();
  const path = o.store ?? defaultStoreRoot();
  const exists = existsSync(path);
  let dir: string | null = null;
  try {
    dir = runtimeDir(o.runtimeDir);
  } catch (err) {
    host.missing.push({ what: 'a runtime directory', effect: 'runs with a network helper cannot keep their sockets', fix: `set XDG_RUNTIME_DIR to a private directory you own (${(err as Error).message})` });
  }
  return {
    node: process.version,
    ...host,
    store: { path, exists, sizeBytes: exists ? await diskUsage(path) : 0 },
    runtimeDir: dir,
  };
}
