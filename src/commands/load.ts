/** `flux load`: the images of an archive file, or of standard input, into the store. */
import { FluxError } from '../errors.js';
import { escapeText } from '../escape.js';
import { Flux } from '../library/flux.js';

export async function loadCommand(o: { input?: string }): Promise<void> {
  const fromStdin = o.input === undefined || o.input === '-';
  if (fromStdin && process.stdin.isTTY) {
    throw new FluxError('BAD_OPTION', 'flux load reads an archive, not a terminal.', { hint: 'Give a file with -i FILE, or redirect the input.', exitCode: 125 });
  }
  const images = await new Flux().load(fromStdin ? process.stdin : o.input!);
  for (const i of images) process.stdout.write(`Loaded image: ${escapeText(i.reference)}\n`);
}
