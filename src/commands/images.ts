/** `flux images`: the images in the store, as a table or as stable JSON. */
import { ImageIndex, Store, imageId, type ImageRecord } from '../../store/index.js';
import { humanAge, humanSize } from '../format.js';
import { FluxError } from '../errors.js';
import { escapeJson, escapeText } from '../escape.js';
import { parseSourceSpec } from '../sources/spec.js';

export interface ImagesJsonEntry {
  reference: string;
  repository: string;
  tag: string | null;
  id: string;
  digest: string;
  indexDigest: string | null;
  platform: string;
  created: string | null;
  size: number;
  unpackedSize: number | null;
  pulledAt: string;
  lastUsed: string;
}

export function toJson(r: ImageRecord): ImagesJsonEntry {
  return {
    reference: r.reference,
    repository: r.repository,
    tag: r.tag ?? null,
    id: r.configDigest,
    digest: r.manifestDigest,
    indexDigest: r.indexDigest ?? null,
    platform: formatPlatformOf(r),
    created: r.config.created ?? null,
    size: r.size,
    unpackedSize: r.unpackedSize ?? null,
    pulledAt: r.pulledAt,
    lastUsed: r.lastUsed,
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + '\n';
}

export async function imagesCommand(o: { json?: boolean }): Promise<void> {
  const store = Store.openExisting();
  const records = store ? await new ImageIndex(store).list() : [];
  if (o.json) {
    process.stdout.write(`${escapeJson(JSON.stringify(records.map(toJson), null, 2))}\n`);
    return;
  }
  const rows = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'UNPACKED']];
  for (const r of records) {
    rows.push([
      r.repository,
      r.tag ?? '<none>',
      imageId(r),
      humanAge(r.config.created),
      humanSize(r.size),
      r.unpackedSize === undefined ? '-' : humanSize(r.unpackedSize),
    ]);
  }
  process.stdout.write(table(rows.map((r) => r.map(escapeText))));
}

export function formatPlatformOf(r: ImageRecord): string {
  const p = r.platform;
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

function notFound(name: string, store: Store | undefined): FluxError {
  return new FluxError('IMAGE_NOT_FOUND', `There is no image "${name}" in the store${store ? ` ${store.root}` : ''}.`, {
    hint: '`flux images` lists the stored images; `flux pull IMAGE` fetches one.',
  });
}

/**
 * The records `name` designates: a reference (normalised like docker) names one record; an image
 * ID or digest names every reference of that image.
 */
export async function resolveImages(store: Store | undefined, name: string): Promise<ImageRecord[]> {
  if (!store) throw notFound(name, store);
  const index = new ImageIndex(store);
  if (/^(sha256:)?[a-f0-9]{4,64}$/.test(name)) {
    const hits = await index.find(name);
    if (hits.length > 0) return hits;
  }
  let canonical: string | undefined;
  try {
    canonical = parseSourceSpec(name).canonical;
  } catch (err) {
    if (!/^[a-f0-9]+$/.test(name)) throw err;
  }
  const hits = canonical === undefined ? [] : await index.find(canonical);
  if (hits.length === 0) throw notFound(name, store);
  return hits;
}
