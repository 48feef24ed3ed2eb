/**
 * An image config blob as a pull receives it: JSON, an object, its rootfs.diff_ids valid digests,
 * one for each of the manifest's layers. Anything else ends the pull in one sentence.
 */
import { FluxError } from '../errors.js';
import { isDigest } from './digest.js';
import type { ImageConfig, ImageManifest } from './types.js';

function configInvalid(name: string, what: string): FluxError {
  return new FluxError('BAD_CONFIG', `the image config of ${name} is invalid: ${what}.`, {
    hint: 'The image is broken; ask its publisher to rebuild it.',
  });
}

export function parseConfig(name: string, bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw configInvalid(name, 'it is not JSON');
  }
}

export function checkConfig(name: string, config: unknown, manifest: ImageManifest): ImageConfig {
  if (typeof config !== 'object' || config === null) throw configInvalid(name, 'it is not a JSON object');
  const c = config as Partial<ImageConfig>;
  const diffIds = c.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || !diffIds.every(isDigest)) throw configInvalid(name, 'rootfs.diff_ids is missing or holds an invalid digest');
  if (diffIds.length !== manifest.layers.length) {
    throw configInvalid(name, `it lists ${diffIds.length} layer diff_ids but the manifest has ${manifest.layers.length} layers`);
  }
  return c as ImageConfig;
}
