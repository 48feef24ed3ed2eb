/**
 * The images the cost curves pull and run, built offline as OCI layouts (as fixtures/ builds
 * its own): the busybox fixture's layer as the base, so every image runs `true` and `sleep`,
 * with more layers, more entries or one distinct file on top.
 *
 *   layers-N    busybox + N−1 layers of one small file each        (N = 1, 16, 64, 128)
 *   entries-N   one layer of N entries: directories of 1000 empty files (N = 1k … 200k)
 *   matrix-K    busybox + one layer naming the image                (K = 1 … 16)
 *
 * Built into fixtures/out/curves/<name>/ once; a layout there is reused while its stamp matches.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { makeTar } from '../../fixtures/build.mjs';

export const LAYER_COUNTS = [1, 16, 64, 128];
export const ENTRY_COUNTS = [1000, 10_000, 100_000, 200_000];
export const MATRIX_COUNTS = [1, 4, 16];
/** Bumped when what an image holds changes, so an old layout is rebuilt. */
const STAMP = 'curves-1';
const MTIME = new Date('2024-01-01T00:00:00Z');

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

/** The busybox fixture's layer blob, diff ID and config: the base of the layered images. */
function busyboxBase(fixturesDir) {
  const fx = JSON.parse(readFileSync(join(fixturesDir, 'busybox.json'), 'utf8'));
  const blob = (d) => readFileSync(join(fixturesDir, 'busybox', 'blobs', d.replace(':', '/')));
  const manifest = JSON.parse(blob(fx.digest).toString());
  const config = JSON.parse(blob(manifest.config.digest).toString());
  return { layer: { blob: blob(fx.layers[0].digest), diffId: fx.diffIds[0] }, config: config.config, platform: fx.platform };
}

function gzLayer(tarBuf) {
  return { blob: zlib.gzipSync(tarBuf, { level: 1 }), diffId: `sha256:${sha256(tarBuf)}` };
}

/** Writes an OCI layout of one image (tag latest) into dir, atomically. */
function writeLayout(dir, layers, imageConfig, platform) {
  const blobs = new Map();
  const add = (buf) => {
    const hex = sha256(buf);
    blobs.set(hex, buf);
    return { digest: `sha256:${hex}`, size: buf.length };
  };
  const created = MTIME.toISOString();
  const config = {
    created, ...platform, config: imageConfig,
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created, created_by: 'bench/lib/curve-images.js' })),
  };
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...add(Buffer.from(JSON.stringify(config))) },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...add(l.blob) })),
  };
  const top = { mediaType: manifest.mediaType, ...add(Buffer.from(JSON.stringify(manifest))), annotations: { 'org.opencontainers.image.ref.name': 'latest' } };
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'blobs/sha256'), { recursive: true });
  for (const [hex, buf] of blobs) writeFileSync(join(tmp, 'blobs/sha256', hex), buf);
  writeFileSync(join(tmp, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(tmp, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [top] }));
  writeFileSync(join(tmp, 'stamp'), STAMP);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

function entriesTar(n) {
  const entries = [{ name: 'e', type: 'directory' }];
  for (let i = 0; i < n; i++) {
    if (i % 1000 === 0) entries.push({ name: `e/${i / 1000}`, type: 'directory' });
    entries.push({ name: `e/${Math.floor(i / 1000)}/f${i % 1000}` });
  }
  return makeTar(entries);
}

/** Builds what is missing; returns { dir, layers: {N: name}, entries: {N: name}, matrix: [name…] }. */
export async function buildCurveImages(fixturesDir, { layers = LAYER_COUNTS, entries = ENTRY_COUNTS, matrix = Math.max(...MATRIX_COUNTS) } = {}) {
  const out = join(fixturesDir, 'curves');
  mkdirSync(out, { recursive: true });
  const base = busyboxBase(fixturesDir);
  const fresh = (name) => existsSync(join(out, name, 'stamp')) && readFileSync(join(out, name, 'stamp'), 'utf8') === STAMP;
  const made = { dir: out, layers: {}, entries: {}, matrix: [] };
  for (const n of layers) {
    const name = `layers-${n}`;
    if (!fresh(name)) {
      const extra = [];
      for (let k = 1; k < n; k++) extra.push(gzLayer(await makeTar([{ name: 'layer', type: 'directory' }, { name: `layer/${k}`, content: `layer ${k} of ${n}\n` }])));
      writeLayout(join(out, name), [base.layer, ...extra], base.config, base.platform);
    }
    made.layers[n] = name;
  }
  for (const n of entries) {
    const name = `entries-${n}`;
    if (!fresh(name)) writeLayout(join(out, name), [gzLayer(await entriesTar(n))], base.config, base.platform);
    made.entries[n] = name;
  }
  for (let k = 1; k <= matrix; k++) {
    const name = `matrix-${k}`;
    if (!fresh(name)) writeLayout(join(out, name), [base.layer, gzLayer(await makeTar([{ name: 'etc', type: 'directory' }, { name: 'etc/matrix-image', content: `${k}\n` }]))], base.config, base.platform);
    made.matrix.push(name);
  }
  return made;
}
