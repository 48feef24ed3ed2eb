/**
 * Garbage collection: blobs and unpacked layers no image record references, and leftovers in
 * tmp/. It runs under the exclusive gc lock, so no pull is between writing a blob and recording
 * its image. Runs take no lock: each lists its layers in its run dir (runs/<owner>-<id>/layers)
 * before it checks they are present, and a layer a live run lists is never removed; the owner
 * names the run's process exactly (src/process-owner.ts), so a reused pid or a pid from another
 * pid namespace is never taken for it.
 * Unpacked layers hold files owned by sub-uids; the caller supplies how to delete them.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Digest } from '../src/image/types.js';
import { ownerAlive, parseOwner } from '../src/process-owner.js';
import { RUN_LAYERS_FILE, containerOfRun } from '../src/container-runs.js';
import { isDigest } from '../src/image/digest.js';
import { parseLayerInfoTemp } from './layer-info-files.js';
import { diskUsage } from './disk-usage.js';
import { ImageIndex, type ImageRecord } from './image-index.js';
import type { Store } from './store.js';

export interface GcOptions {
  /**
   * Deletes unpacked layers (they may need the user namespace). It takes them out of layers/
   * first, then asks `inUse()` again and puts back those a run started meanwhile lists; it
   * returns the ones it put back.
   */
  removeLayers: (diffIds: Digest[], inUse: () => Promise<Set<Digest>>) => Promise<Digest[]>;
  /** Deletes trees under tmp/ that a plain rm could not (left by an interrupted unpack). */
  removeTrees?: (paths: string[]) => Promise<void>;
  /** Consider only these blobs and layers (after rmi); default: everything in the store. */
  only?: { blobs: Set<Digest>; layers: Set<Digest> };
  /** Also empty tmp/ (partial downloads, stale temp files). */
  sweepTmp?: boolean;
  /**
   * The records whose blobs and layers stay; default: the index's. rmi on a full disk passes the
   * records that will remain, before the index says so.
   */
  keep?: ImageRecord[];
  /** Remove unpacked layers only, no blobs: a blob goes only once no index entry references it. */
  layersOnly?: boolean;
}

export interface GcResult {
  freedBytes: number;
  blobs: number;
  layers: number;
  tmpEntries: number;
}

export function referencedBy(records: ImageRecord[]): { blobs: Set<Digest>; layers: Set<Digest> } {
  const blobs = new Set<Digest>();
  const layers = new Set<Digest>();
  for (const r of records) {
    blobs.add(r.manifestDigest);
    if (r.indexDigest) blobs.add(r.indexDigest);
    blobs.add(r.configDigest);
    for (const l of r.layers) {
      blobs.add(l.digest);
      layers.add(l.diffId);
    }
  }
  return { blobs, layers };
}

/** Layers listed by run dirs whose flux process is alive, and by every detached container's (running or stopped). */
export async function layersOfLiveRuns(store: Store): Promise<Set<Digest>> {
  const out = new Set<Digest>();
  let names: string[];
  try {
    names = await readdir(store.runsDir);
  } catch {
    return out;
  }
  for (const n of names) {
    if (containerOfRun(n) === undefined) {
      const o = parseOwner(n.split('-'));
      if (!o || !ownerAlive(o.owner)) continue;
    }
    let text: string;
    try {
      text = await readFile(join(store.runsDir, n, RUN_LAYERS_FILE), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) if (isDigest(line)) out.add(line);
  }
  return out;
}

async function listDigests(dir: string): Promise<Digest[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names.map((n) => `sha256:${n}`).filter(isDigest);
}

/** Removes what no image references. Call with the gc lock held exclusively. */
export async function collectGarbage(store: Store, opts: GcOptions): Promise<GcResult> {
  const live = referencedBy(opts.keep ?? (await new ImageIndex(store).list()));
  const result: GcResult = { freedBytes: 0, blobs: 0, layers: 0, tmpEntries: 0 };

  const blobCandidates = opts.layersOnly ? [] : opts.only ? [...opts.only.blobs] : await listDigests(join(store.root, 'blobs', 'sha256'));
  for (const d of blobCandidates) {
    if (live.blobs.has(d)) continue;
    const p = store.blobPath(d);
    try {
      const st = await stat(p);
      await rm(p, { force: true });
      result.freedBytes += st.blocks * 512;
      result.blobs++;
    } catch {
      // already gone
    }
  }

  const layerCandidates = opts.only ? [...opts.only.layers] : await listDigests(join(store.root, 'layers', 'sha256'));
  const running = await layersOfLiveRuns(store);
  const deadLayers = new Map<Digest, number>();
  for (const d of layerCandidates) {
    if (live.layers.has(d) || running.has(d) || !(await store.hasLayer(d))) continue;
    deadLayers.set(d, await diskUsage(store.layerPath(d)));
  }
  if (deadLayers.size > 0) {
    const kept = new Set(await opts.removeLayers([...deadLayers.keys()], () => layersOfLiveRuns(store)));
    for (const [d, size] of deadLayers) {
      if (kept.has(d)) continue;
      result.freedBytes += size;
      result.layers++;
    }
  }

  if (opts.sweepTmp) {
    let names: string[] = [];
    try {
      names = await readdir(store.tmpDir);
    } catch {
      // no tmp dir
    }
    const stubborn: string[] = [];
    for (const n of names) {
      const p = join(store.tmpDir, n);
      const size = await diskUsage(p);
      try {
        await rm(p, { recursive: true, force: true });
        result.freedBytes += size;
        result.tmpEntries++;
      } catch {
        stubborn.push(p);
      }
    }
    if (stubborn.length > 0 && opts.removeTrees) {
      await opts.removeTrees(stubborn);
      result.tmpEntries += stubborn.length;
    }
    // Temp files of an index write that crashed before its rename.
    for (const n of await readdir(store.indexDir).catch(() => [] as string[])) {
      if (n.endsWith('.tmp')) await rm(join(store.indexDir, n), { force: true });
    }
    const leftovers = await layerInfoLeftovers(join(store.root, 'layers', 'sha256'));
    for (const p of leftovers) {
      const size = await diskUsage(p);
      await rm(p, { force: true });
      result.freedBytes += size;
      result.tmpEntries++;
    }
  }
  return result;
}

/**
 * Files beside the layers that no layer needs: temp files of an info write whose writer is gone
 * (a full disk or a kill -9 between its write and its rename; one of a live writer is left to
 * it), and info files whose layer is not there (the unpacker writes the info before it moves the
 * layer in, so a crash between the two leaves one). Every unpack holds the gc lock shared, so
 * under the exclusive lock no info is waiting for its layer.
 */
async function layerInfoLeftovers(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const present = new Set(names);
  const out: string[] = [];
  for (const n of names) {
    const temp = parseLayerInfoTemp(n);
    if (temp) {
      const o = parseOwner(temp.owner.split('-'));
      if (o && o.used === temp.owner.split('-').length && !ownerAlive(o.owner)) out.push(join(dir, n));
      continue;
    }
    const info = /^([a-f0-9]{64})\.json$/.exec(n);
    if (info && !present.has(info[1] as string)) out.push(join(dir, n));
  }
  return out;
}
