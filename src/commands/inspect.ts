/** `flux inspect`: an image's record, manifest and config as a JSON array (like `podman image inspect`). */
import { Store } from '../../store/index.js';
import type { Digest } from '../image/types.js';
import { escapeJson } from '../escape.js';
import { formatPlatformOf, resolveImages } from './images.js';

export async function inspectCommand(names: string[]): Promise<void> {
  const store = Store.openExisting();
  const out: unknown[] = [];
  for (const name of names) {
    for (const r of await resolveImages(store, name)) {
      const manifest = await store!.readJson(r.manifestDigest);
      const config = await store!.readJson<Record<string, unknown>>(r.configDigest as Digest);
      out.push({
        Id: r.configDigest,
        Reference: r.reference,
        Repository: r.repository,
        Tag: r.tag ?? null,
        Digest: r.manifestDigest,
        IndexDigest: r.indexDigest ?? null,
        RepoDigests: [`${r.repository}@${r.indexDigest ?? r.manifestDigest}`],
        Created: r.config.created ?? null,
        Platform: formatPlatformOf(r),
        Os: r.config.os,
        Architecture: r.config.architecture,
        Variant: r.config.variant ?? null,
        Size: r.size,
        UnpackedSize: r.unpackedSize ?? null,
        PulledAt: r.pulledAt,
        LastUsed: r.lastUsed,
        Layers: r.layers,
        Config: config.config ?? {},
        Manifest: manifest,
        ImageConfig: config,
      });
    }
  }
  process.stdout.write(`${escapeJson(JSON.stringify(out, null, 2))}\n`);
}
