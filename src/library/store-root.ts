/** The store a command works on, made if missing: its root, for child processes to share (FLUX_STORE). */
import { Store } from '../../store/store.js';

export function storeRoot(root?: string): string {
  return Store.open(root).root;
}
