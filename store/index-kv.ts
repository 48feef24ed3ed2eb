/** keyv over the index file: only what writes the index (a pull, rmi) loads it. */
import { Keyv } from 'keyv';
import type { JsonFileAdapter } from './index-db.js';

export function openIndexKv<T>(adapter: JsonFileAdapter, namespace: string): Keyv<T> {
  const kv = new Keyv<T>({ store: adapter, namespace, serialize: undefined, deserialize: undefined, throwOnErrors: true });
  // keyv re-emits adapter errors; without a listener an 'error' event would throw out of band.
  kv.on('error', () => undefined);
  return kv;
}
