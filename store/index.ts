/** The store's public API. It knows nothing of registries or namespaces. */
export { Store, STORE_DIRS, type BlobWriteResult } from './store.js';
export { defaultStoreRoot } from './location.js';
export { ImageIndex, findImage, imageId, type ImageRecord, type LayerRecord } from './image-index.js';
export { collectGarbage, layersOfLiveRuns, referencedBy, type GcOptions, type GcResult } from './gc.js';
export type { BlobSource, WriteBlobOptions } from './write-blob.js';
export type { Lock } from './lock.js';
export { diskUsage } from './disk-usage.js';
