/**
 * `flux rmi`: removes image records, then right away the blobs and unpacked layers that no
 * remaining image uses (as `docker rmi` frees the space). A reference removes that name only;
 * an image ID or digest removes every name of that image.
 */
import { ImageIndex, Store, collectGarbage, imageId, referencedBy, type ImageRecord } from '../../store/index.js';
import { humanSize } from '../format.js';
import { escapeText } from '../escape.js';
import { resolveImages } from './images.js';

export async function rmiCommand(names: string[]): Promise<void> {
  const store = Store.openExisting();
  // Resolve every name first: an unknown one removes nothing at all.
  const doomed = new Map<string, ImageRecord>();
  for (const n of names) for (const r of await resolveImages(store, n)) doomed.set(r.reference, r);
  const s = store!;
  const gc = await s.gcLock('collect', { onWait: () => process.stderr.write('flux: waiting for other flux processes using the store to finish\n') });
  try {
    await new ImageIndex(s).remove([...doomed.keys()]);
    const only = referencedBy([...doomed.values()]);
    const { removeLayers } = await import('../layers/index.js');
    const r = await collectGarbage(s, { only, removeLayers: (d, inUse) => removeLayers(s, d, inUse) });
    for (const rec of doomed.values()) process.stdout.write(`Untagged: ${escapeText(rec.reference)}\n`);
    const ids = new Set([...doomed.values()].map((x) => imageId(x)));
    const still = new Set((await new ImageIndex(s).list()).map((x) => imageId(x)));
    for (const id of ids) if (!still.has(id)) process.stdout.write(`Deleted: ${id}\n`);
    process.stderr.write(`freed ${r.freedBytes} bytes (${humanSize(r.freedBytes)}): ${r.blobs} blobs, ${r.layers} unpacked layers\n`);
  } finally {
    gc.release();
  }
}
