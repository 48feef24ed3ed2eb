/** Unpacked layers in the store: unpack once per diff_id, remove, sweep leftovers. */
export { ensureUnpacked, type EnsureUnpackedOptions, type EnsureUnpackedResult, type LayerToUnpack } from './ensure-unpacked.js';
export { prepareUnpacking, startUnpackSession, type UnpackSession } from './unpack-session.js';
export { startJobRunner, type JobRunner } from './job-runner.js';
export { removeLayers, removeTrees, cleanStaleUnpacks } from './remove-layers.js';
export { readLayerInfo, type LayerInfo } from './layer-info.js';
