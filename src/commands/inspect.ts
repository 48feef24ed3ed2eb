/**
 * `flux inspect NAME...`: each name's container state or image records, as one JSON array (like
 * `podman inspect`). The names found are printed even when another is not; then the first one
 * not found is reported, and the exit code says so.
 */
import { escapeJson } from '../escape.js';
import { Flux } from '../library/flux.js';

export async function inspectCommand(names: string[]): Promise<void> {
  const flux = new Flux();
  const out: unknown[] = [];
  let missing: unknown;
  for (const name of names) {
    try {
      out.push(...(await flux.inspectAny(name)));
    } catch (err) {
      missing ??= err;
    }
  }
  process.stdout.write(`${escapeJson(JSON.stringify(out, null, 2))}\n`);
  if (missing !== undefined) throw missing;
}
