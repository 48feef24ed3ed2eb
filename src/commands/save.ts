/** `flux save`: images into an archive file, or onto standard output when that is not a terminal. */
import { FluxError } from '../errors.js';
import { humanSize } from '../format.js';
import { Flux } from '../library/flux.js';

export async function saveCommand(images: string[], o: { output?: string; format?: string; quiet?: boolean }): Promise<void> {
  const toStdout = o.output === undefined || o.output === '-';
  if (toStdout && process.stdout.isTTY) {
    throw new FluxError('BAD_OPTION', 'flux save will not write an archive to a terminal.', { hint: 'Give a file with -o FILE, or redirect the output.', exitCode: 125 });
  }
  const r = await new Flux().save(images, toStdout ? process.stdout : o.output!, o.format !== undefined ? { format: o.format as 'docker-archive' } : {});
  if (!o.quiet) process.stderr.write(`saved ${r.images} image${r.images === 1 ? '' : 's'}, ${r.bytes} bytes (${humanSize(r.bytes)})\n`);
}
