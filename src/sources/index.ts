/** Opens the image source a name points at: a registry, an OCI layout or archive, a docker archive. */
import type { ImageSource } from '../image/types.js';
import { parseSourceSpec, type SourceSpec } from './spec.js';

export { parseSourceSpec, type SourceSpec } from './spec.js';
export { lookupImage } from './lookup.js';

export interface OpenedSource {
  source: ImageSource;
  /** Canonical name: the image index key. */
  reference: string;
  kind: SourceSpec['kind'];
  spec: SourceSpec;
}

export async function openSource(refString: string, opts: { insecure?: boolean; onNotice?: (message: string) => void } = {}): Promise<OpenedSource> {
  const spec = parseSourceSpec(refString);
  let source: ImageSource;
  switch (spec.kind) {
    case 'oci': {
      const { OciLayoutSource } = await import('./oci-layout.js');
      source = await OciLayoutSource.fromDir(spec.path, spec.tag, refString);
      break;
    }
    case 'oci-archive': {
      const { OciLayoutSource } = await import('./oci-layout.js');
      source = await OciLayoutSource.fromArchive(spec.path, spec.tag, refString);
      break;
    }
    case 'docker-archive': {
      const { DockerArchiveSource } = await import('./docker-archive.js');
      source = await DockerArchiveSource.open(spec.path, spec.tag, refString);
      break;
    }
    case 'registry': {
      const [{ RegistrySource }, { registriesConfig }] = await Promise.all([import('../registry/source.js'), import('../registry/config.js')]);
      source = new RegistrySource(spec.ref, { insecure: opts.insecure, onNotice: opts.onNotice, config: await registriesConfig() });
      break;
    }
  }
  return { source, reference: spec.canonical, kind: spec.kind, spec };
}
