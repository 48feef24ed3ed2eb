/** What a run starts from, found before anything is started: a stored (or pulled) image, or a root filesystem directory. */
import { accessSync, constants, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { escapeText } from '../escape.js';
import type { Store } from '../../store/store.js';
import type { ImageRecord } from '../../store/image-index.js';
import type { RunOptions } from './run-types.js';
import { bad } from './run-error.js';

/** The directory a run starts from, checked before anything is started: never written, only read. */
export function checkRootfs(dir: string): string {
  const abs = resolvePath(dir);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw bad('BAD_ROOTFS', `the root filesystem ${abs} does not exist.`, 'Give --rootfs an unpacked root filesystem directory.');
  }
  if (!st.isDirectory()) throw bad('BAD_ROOTFS', `the root filesystem ${abs} is not a directory.`, 'Give --rootfs an unpacked root filesystem directory.');
  try {
    accessSync(abs, constants.R_OK | constants.X_OK);
  } catch {
    throw bad('BAD_ROOTFS', `the root filesystem ${abs} is not readable by you.`, 'Give --rootfs a directory you can read, or fix its permissions.');
  }
  return abs;
}

export async function findRecord(image: string, o: RunOptions, store: Store, say: (text: string) => void, resolver = import('../pull/pull-image.js')): Promise<ImageRecord> {
  const { ensureImage } = await resolver;
  return ensureImage(image, {
    store,
    pull: o.pull,
    ...(o.platform ? { platform: o.platform } : {}),
    insecure: o.insecure,
    events: { notice: (m: string) => say(`flux: ${escapeText(m)}\n`) },
  });
}
