/**
 * A command over several names (`flux rm a b c`, `flux network rm n1 n2`), as docker's: each
 * name is done in turn and printed; one that fails is reported and the rest are still done; the
 * last failure is the command's.
 */
import { escapeText } from '../escape.js';
import { FluxError } from '../errors.js';

export async function eachName(names: string[], each: (name: string) => Promise<string>): Promise<void> {
  let failed: FluxError | undefined;
  for (const name of names) {
    try {
      process.stdout.write(`${escapeText(await each(name))}\n`);
    } catch (err) {
      if (!(err instanceof FluxError)) throw err;
      if (failed) process.stderr.write(`flux: ${escapeText(`${failed.message} ${failed.hint ?? ''}`.trim())}\n`);
      failed = err;
    }
  }
  if (failed) throw failed;
}
