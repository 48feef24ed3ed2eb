/**
 * Bounds on what an image may ask of flux before anything of it is downloaded. The config is read
 * whole into memory and copied into the image index every run reads; each layer is one overlay
 * lower directory (the mount data holds all their paths in one page).
 */
import { FluxError } from '../errors.js';
import type { ImageManifest } from './types.js';

/** The limit skopeo and podman use for configs, and flux for manifests. */
export const CONFIG_MAX_BYTES = 4 * 1024 * 1024;
/** Docker's limit (overlay2 refuses more than 128 lower layers). */
export const MAX_LAYERS = 128;

const LIMITS = `flux accepts configs up to ${CONFIG_MAX_BYTES} bytes (4 MiB) and at most ${MAX_LAYERS} layers`;

/** Checks the manifest's own descriptors: the config is never fetched past its declared size. */
export function checkImageLimits(name: string, manifest: ImageManifest): void {
  if (manifest.config.size > CONFIG_MAX_BYTES) {
    throw new FluxError('CONFIG_TOO_LARGE', `the image ${name} declares a config of ${manifest.config.size} bytes; ${LIMITS}.`, {
      hint: 'Do not use this image: no real image needs a config that large, so its source is broken or hostile.',
    });
  }
  if (manifest.layers.length > MAX_LAYERS) {
    throw new FluxError('TOO_MANY_LAYERS', `the image ${name} has ${manifest.layers.length} layers; ${LIMITS}.`, {
      hint: 'Rebuild the image with fewer layers (squash them, or merge RUN steps).',
    });
  }
}
