/** `flux inspect`: an image's record, manifest and config as a JSON array (like `podman image inspect`). */
import { escapeJson } from '../escape.js';
import { Flux } from '../library/flux.js';

export async function inspectCommand(names: string[]): Promise<void> {
  const flux = new Flux();
  const out: unknown[] = [];
  for (const name of names) out.push(...(await flux.inspect(name)));
  process.stdout.write(`${escapeJson(JSON.stringify(out, null, 2))}\n`);
}
