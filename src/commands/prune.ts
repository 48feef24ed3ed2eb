/** `flux prune`: removes every blob and unpacked layer no image references, leftovers in tmp/ and the run directories of killed runs. */
import { humanSize } from '../format.js';
import { Flux } from '../library/flux.js';

export async function pruneCommand(): Promise<void> {
  const r = await new Flux().prune({ onWait: () => void process.stderr.write('flux: waiting for other flux processes using the store to finish\n') });
  process.stderr.write(`removed ${r.blobs} blobs, ${r.layers} unpacked layers, ${r.tmpEntries} temporary files, ${r.runDirs} run directories\n`);
  process.stdout.write(`freed ${r.freedBytes} bytes (${humanSize(r.freedBytes)})\n`);
}
