/** `flux prune`: removes every blob and unpacked layer no image references, and leftovers in tmp/. */
import { Store, collectGarbage } from '../../store/index.js';
import { humanSize } from '../format.js';

export async function pruneCommand(): Promise<void> {
  const store = Store.openExisting();
  if (!store) {
    process.stdout.write('freed 0 bytes (0 B)\n');
    return;
  }
  const gc = await store.gcLock('collect', { onWait: () => process.stderr.write('flux: waiting for other flux processes using the store to finish\n') });
  try {
    const { removeLayers, removeTrees, cleanStaleUnpacks } = await import('../layers/index.js');
    await cleanStaleUnpacks(store);
    const r = await collectGarbage(store, {
      removeLayers: (d, inUse) => removeLayers(store, d, inUse),
      removeTrees,
      sweepTmp: true,
    });
    process.stderr.write(`removed ${r.blobs} blobs, ${r.layers} unpacked layers, ${r.tmpEntries} temporary files\n`);
    process.stdout.write(`freed ${r.freedBytes} bytes (${humanSize(r.freedBytes)})\n`);
  } finally {
    gc.release();
  }
}
