/**
 * `flux inspect`: a detached container's state and events, or else an image's record, manifest
 * and config, as a JSON array (like `podman inspect`, containers first).
 */
import { escapeJson } from '../escape.js';
import { isFluxError } from '../errors.js';
import { Flux } from '../library/flux.js';

async function containerRecord(flux: Flux, name: string): Promise<Record<string, unknown> | undefined> {
  try {
    return await (await flux.container(name)).inspect();
  } catch (err) {
    // No such container, or no runtime directory to hold any: the name is an image's.
    if (isFluxError(err) && (err.code === 'NO_CONTAINER' || err.code === 'RUNTIME_DIR')) return undefined;
    throw err;
  }
}

export async function inspectCommand(names: string[]): Promise<void> {
  const flux = new Flux();
  const out: unknown[] = [];
  for (const name of names) {
    const container = await containerRecord(flux, name);
    if (container) out.push(container);
    else out.push(...(await flux.inspect(name)));
  }
  process.stdout.write(`${escapeJson(JSON.stringify(out, null, 2))}\n`);
}
