/** `--label KEY=VALUE` (docker and podman): checked and kept with the run's options; `KEY` alone is an empty value. */
import { FluxError } from '../errors.js';

export function parseLabels(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const eq = l.indexOf('=');
    const key = eq < 0 ? l : l.slice(0, eq);
    if (key === '' || /\s/.test(key)) throw new FluxError('BAD_LABEL', `invalid --label "${l}": the key is empty or holds a space.`, { hint: 'Write --label KEY=VALUE.', exitCode: 125 });
    out[key] = eq < 0 ? '' : l.slice(eq + 1);
  }
  return out;
}
