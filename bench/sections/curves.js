/**
 * Cost curves: how a figure grows with the work, flux and podman side by side at each point,
 * round by round (interleave). Each point is the median of a few runs: enough to show a
 * curve's shape, short enough that the section stays minutes long.
 *
 *   layers   cold pull + unpack of images of 1, 16, 64, 128 layers
 *   entries  cold pull + unpack of one layer of 1k … 200k entries (µs per entry should stay flat),
 *            and flux's entry writer alone on tmpfs (bench/sections/unpack.js)
 *   matrix   `flux matrix` of 1, 4, 16 cached images; podman: a `podman run` per image, one per core at a time
 *   volumes  a warm run with 0, 10, 100 bind-mounted volumes
 *   ps       `flux ps` / `podman ps` with 1, 10, 50 detached containers running `sleep`
 */
import { mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { interleave } from '../lib/loop.js';
import { log, snapshotProcesses, waitForExit } from '../lib/proc.js';
import { median } from '../lib/stats.js';
import { benchUnpack } from './unpack.js';
import { prepareWarmStore } from './warm.js';

const VOLUME_COUNTS = [0, 10, 100];
const PS_COUNTS = [1, 10, 50];
const PODMAN_LEFTOVERS = ['conmon', 'slirp4netns', 'podman'];

/** `podman run --rm`, then (untimed) until the conmon it leaves to clean up is gone, as warm.js does. */
function podmanSettled(ctx, run) {
  const before = snapshotProcesses(PODMAN_LEFTOVERS);
  const r = run();
  waitForExit(PODMAN_LEFTOVERS, before);
  return r;
}

function pullPoint(ctx, ref, runs, label, warmups = 1) {
  const fluxStore = join(ctx.work, 'curve-pull-flux');
  return interleave([
    { name: 'flux', prepare: () => ctx.freshDir('curve-pull-flux'), run: () => ctx.flux(['pull', '-q', ref], { store: fluxStore }) },
    { name: 'podman', prepare: () => ctx.podman(['rmi', '-a', '-f']), run: () => ctx.podman(['pull', '-q', ref]) },
  ], { runs, warmups, label });
}

function layersCurve(ctx, names, runs) {
  const points = [];
  for (const [n, name] of Object.entries(names)) points.push({ x: Number(n), ...pullPoint(ctx, ctx.ref(name), runs, `curve layers ${n}`) });
  ctx.podman(['rmi', '-a', '-f']);
  ctx.freshDir('curve-pull-flux');
  return points;
}

async function entriesCurve(ctx, names, runs) {
  const points = [];
  for (const [n, name] of Object.entries(names)) {
    // The largest layers take up to half a minute a pull: fewer rounds and no warm-up (a cold
    // pull has nothing to warm but the disk cache of the registry's blob, a few MB).
    const big = Number(n) >= 100_000;
    points.push({ x: Number(n), ...pullPoint(ctx, ctx.ref(name), big ? Math.min(runs, 2) : runs, `curve entries ${n}`, big ? 0 : 1) });
  }
  ctx.podman(['rmi', '-a', '-f']);
  ctx.freshDir('curve-pull-flux');
  const writer = await benchUnpack(ctx, Object.keys(names).map(Number));
  for (const p of points) p.writerUsPerEntry = writer[p.x]?.usPerEntry;
  return points;
}

function matrixCurve(ctx, names, counts, runs) {
  const store = prepareWarmStore(ctx, names.slice(0, Math.max(...counts)));
  for (const name of names) podmanPull(ctx, ctx.ref(name));
  const points = [];
  for (const k of counts) {
    const refs = names.slice(0, k).map((n) => ctx.ref(n));
    // podman has no matrix: its equivalent is one `podman run` per image, as many at once as
    // flux matrix runs by default (one per core). All sixteen at once, podman 4.3 fails some
    // with "layer not known" (concurrent container creation in one storage).
    const script = `printf '%s\\n' "$@" | xargs -P ${cpus().length} -I{} podman run --rm --network none {} true`;
    points.push({
      x: k,
      ...interleave([
        { name: 'flux', run: () => ctx.flux(['matrix', '--network', 'none', refs.join(','), '--', 'true'], { store }) },
        { name: 'podman', run: () => podmanSettled(ctx, () => ctx.run('sh', ['-c', script, 'sh', ...refs], { env: ctx.podmanEnv })) },
      ], { runs, warmups: 1, label: `curve matrix ${k}` }),
    });
  }
  return points;
}

/** A pull the curve needs before its first point: a failure says why, rather than a point with no podman figure. */
function podmanPull(ctx, ref) {
  const r = ctx.podman(['pull', '-q', ref]);
  if (r.code !== 0) throw new Error(`podman pull ${ref}: ${(r.stderr || `exit ${r.code}`).trim().split('\n').at(-1)}`);
}

function volumesCurve(ctx, runs) {
  const store = prepareWarmStore(ctx, ['busybox']);
  const ref = ctx.ref('busybox');
  podmanPull(ctx, ref);
  const dir = ctx.freshDir('curve-volumes');
  const points = [];
  for (const n of VOLUME_COUNTS) {
    const flags = [];
    for (let i = 0; i < n; i++) {
      mkdirSync(join(dir, `v${i}`), { recursive: true });
      flags.push('-v', `${join(dir, `v${i}`)}:/mnt/v${i}`);
    }
    points.push({
      x: n,
      ...interleave([
        { name: 'flux', run: () => ctx.flux(['run', '--network', 'none', ...flags, ref, '--', 'true'], { store }) },
        { name: 'podman', run: () => podmanSettled(ctx, () => ctx.podman(['run', '--rm', '--network', 'none', ...flags, ref, 'true'])) },
      ], { runs, warmups: 1, label: `curve volumes ${n}` }),
    });
  }
  return points;
}

/** Detached containers are started up to each count, `ps` timed there; every one is removed at the end. */
function psCurve(ctx, runs) {
  const store = prepareWarmStore(ctx, ['busybox']);
  const ref = ctx.ref('busybox');
  podmanPull(ctx, ref);
  // A runtime directory of the bench's own: `flux ps` then lists only the containers started here.
  const env = { XDG_RUNTIME_DIR: ctx.freshDir('curve-ps-runtime') };
  const fluxIds = [];
  let podmanStarted = 0;
  const points = [];
  try {
    for (const n of PS_COUNTS) {
      while (fluxIds.length < n) {
        const r = ctx.flux(['run', '-d', '--network', 'none', ref, '--', 'sleep', '3600'], { store, env });
        if (r.code !== 0) throw new Error(`flux run -d: ${r.stderr.trim()}`);
        fluxIds.push(r.stdout.trim());
      }
      while (podmanStarted < n) {
        const r = ctx.podman(['run', '-d', '--network', 'none', ref, 'sleep', '3600']);
        if (r.code !== 0) throw new Error(`podman run -d: ${r.stderr.trim()}`);
        podmanStarted++;
      }
      points.push({
        x: n,
        ...interleave([
          { name: 'flux', run: () => ctx.flux(['ps'], { store, env }) },
          { name: 'podman', run: () => ctx.podman(['ps']) },
        ], { runs, warmups: 1, label: `curve ps ${n}` }),
      });
    }
  } finally {
    for (let i = 0; i < fluxIds.length; i += 20) ctx.flux(['rm', '-f', ...fluxIds.slice(i, i + 20)], { store, env });
    ctx.podman(['rm', '-f', '-t', '0', '-a']);
    const left = ctx.flux(['ps', '-q'], { store, env }).stdout.trim();
    if (left) log(`curves: flux containers still running after clean-up: ${left.split('\n').length}`);
  }
  return points;
}

/** Medians of each point, for the report. */
export function curveMedians(points) {
  return points.map((p) => ({ x: p.x, flux: median(p.flux?.samples ?? []), podman: median(p.podman?.samples ?? []), writerUsPerEntry: p.writerUsPerEntry, errors: [p.flux?.error, p.podman?.error].filter(Boolean) }));
}

export async function benchCurves(ctx, images, runs) {
  const out = {};
  const step = async (name, fn) => {
    try {
      out[name] = { points: await fn() };
    } catch (err) {
      log(`curve ${name} failed: ${err?.message ?? err}`);
      out[name] = { error: String(err?.message ?? err) };
    }
  };
  await step('volumes', () => volumesCurve(ctx, runs));
  await step('matrix', () => matrixCurve(ctx, images.matrix, images.matrixCounts, runs));
  await step('ps', () => psCurve(ctx, runs));
  await step('layers', () => layersCurve(ctx, images.layers, runs));
  await step('entries', () => entriesCurve(ctx, images.entries, runs));
  return out;
}
