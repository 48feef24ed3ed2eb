/** Pulling for the library and the commands: the pull with its figures, the record as `flux images --json` has it. */
import { pullImage } from '../pull/pull-image.js';
import { parsePullPolicy } from '../pull/pull-policy.js';
import { Store } from '../../store/store.js';
import type { ImageRecord } from '../../store/image-index.js';
import { toJson } from './image-records.js';
import type { ImageInfo, PullOptions } from './api-types.js';

export { parsePullPolicy };

export interface PullReport {
  image: ImageInfo;
  /** The record in the store's index, for callers below the library's API (the CLI's matrix lock). */
  record: ImageRecord;
  /** Bytes downloaded by this pull (0 when everything was in the store). */
  fetchedBytes: number;
  /** No source was contacted. */
  fromStore: boolean;
}

export async function pullReport(ref: string, o: PullOptions, root: string | undefined): Promise<PullReport> {
  const r = await pullImage(ref, {
    store: Store.open(root),
    pull: parsePullPolicy(o.policy ?? 'always', 'policy'),
    ...(o.platform !== undefined ? { platform: o.platform } : {}),
    ...(o.insecure ? { insecure: true } : {}),
    ...(o.onProgress ? { events: o.onProgress } : {}),
  });
  return { image: toJson(r.record), record: r.record, fetchedBytes: r.fetchedBytes, fromStore: r.fromStore };
}
