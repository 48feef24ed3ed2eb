/** `flux rmi`: removes images, and the blobs and layers no other image uses. */
import { humanSize } from '../format.js';
import { escapeText } from '../escape.js';
import { Flux } from '../library/flux.js';

const waiting = (): void => void process.stderr.write('flux: waiting for other flux processes using the store to finish\n');

export async function rmiCommand(names: string[], force = false): Promise<void> {
  const r = await new Flux().removeImage(names, { onWait: waiting, force });
  for (const ref of r.untagged) process.stdout.write(`Untagged: ${escapeText(ref)}\n`);
  for (const id of r.deleted) process.stdout.write(`Deleted: ${id}\n`);
  process.stderr.write(`freed ${r.freedBytes} bytes (${humanSize(r.freedBytes)}): ${r.blobs} blobs, ${r.layers} unpacked layers\n`);
}
