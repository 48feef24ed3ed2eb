/** `flux.run({ detach: true })`: the library's options for a container left running under its monitor. */
import { containerOptions, runTarget } from './foreground-run.js';
import { containersRoot } from '../container/container-state.js';
import { logMaxBytes, startDetached } from '../container/start-detached.js';
import { Container } from './container.js';
import type { FluxOptions, RunOptions } from './api-types.js';

export async function detachedRun(o: RunOptions, flux: FluxOptions = {}): Promise<Container> {
  const target = runTarget(o);
  const opts = containerOptions(o, flux);
  const root = containersRoot(flux.runtimeDir);
  const s = await startDetached(root, target, o.command ?? [], opts, {
    ...(o.name !== undefined ? { name: o.name } : {}),
    autoRemove: o.remove ?? false,
    ...(o.logMaxSize !== undefined ? { logMaxBytes: logMaxBytes(o.logMaxSize) } : {}),
    say: (text) => o.onMessage?.(text.replace(/^flux: /, '').replace(/\n$/, '')),
  });
  return new Container(s.id, s.name, root);
}
