/**
 * `flux bench`: where a warm `flux run IMAGE -- true` spends its time on this machine, stage by
 * stage, against the floors of any Node program (`node -e 0`) and of any sandbox (bwrap on the
 * same unpacked tree). Each run is a real `flux run` process with FLUX_TIMING=1: flux and its
 * helper print the milliseconds since flux started at each step (src/timing.ts, the
 * helper's lap()), and the stages are the spans between chosen steps, so they add up to the
 * total measured from outside.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FluxError } from '../errors.js';
import { probeHost } from '../container/host-info.js';
import { defaultStoreRoot } from '../../store/index.js';
import type { FluxOptions } from './api-types.js';

export interface BenchOptions {
  /** A stored image; by default the busybox image shipped with flux (fixtures/out/busybox). */
  image?: string;
  /** Measured runs after the warm-up; 20 by default. */
  runs?: number;
  /** The run's --network; none by default (the floors have no network either). */
  network?: string;
}

export interface BenchFigure {
  name: string;
  /** Median, min and max over the runs, in ms; null when no run reported that stage. */
  medianMs: number | null;
  minMs: number | null;
  maxMs: number | null;
}

export interface BenchFloor extends BenchFigure {
  /** Why it was not measured (bwrap missing, an image of several layers). */
  skipped?: string;
}

export interface BenchReport {
  image: string;
  runs: number;
  /** How the root was assembled: overlay, fuse-overlayfs, or a copy. */
  rootfs: string;
  network: string;
  /** The stages of a warm run, in order, then the total. */
  stages: BenchFigure[];
  floors: BenchFloor[];
}

/**
 * Each stage ends at a step of flux (plain) or of its helper (`helper …`); the first starts
 * when the process is spawned, the last ends when it has exited.
 */
const STAGES: { name: string; until: string }[] = [
  { name: 'process start to command line', until: 'cli' },
  { name: 'run code loaded, helper started', until: 'helper started' },
  { name: 'namespaces and id maps', until: 'helper mapped' },
  { name: 'root filesystem assembly', until: 'helper root mounted' },
  { name: 'start of the command', until: 'helper go' },
  { name: 'the command', until: 'helper command exited' },
  { name: 'teardown', until: 'exit' },
];

const DEFAULT_RUNS = 20;

/** The package's directory: dist/src/library → the package (the bundle keeps each module's own directory). */
function packageRoot(): string {
  return join(import.meta.dirname, '../../..');
}

interface Timed {
  ms: number;
  code: number | null;
  stderr: string;
  /** Epoch ms of the spawn, to place the child's own clock (its performance.timeOrigin) against. */
  spawnedAt: number;
}

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  return new Promise((resolve) => {
    const spawnedAt = performance.timeOrigin + performance.now();
    const t0 = performance.now();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', (err) => resolve({ ms: performance.now() - t0, code: -1, stderr: err.message, spawnedAt }));
    child.on('close', (code) => resolve({ ms: performance.now() - t0, code, stderr, spawnedAt }));
  });
}

/** The end of each stage in ms since the spawn, from one run's FLUX_TIMING lines; NaN where a step is missing. */
export function stageSpans(stderr: string, totalMs: number, spawnedAt: number): number[] {
  const laps = new Map<string, number>();
  let origin: number | undefined;
  for (const m of stderr.matchAll(/^flux: timing: (.+?) (-?[\d.]+)( ms)?$/gm)) {
    if (m[1] === 'origin' && m[3] === undefined) origin = Number(m[2]);
    // The helper and its init both say "started": the first is the one that counts.
    else if (!laps.has(m[1]!)) laps.set(m[1]!, Number(m[2]));
  }
  // Node's clock starts a little after the spawn: the gap belongs to the process start.
  const offset = origin === undefined ? 0 : Math.max(0, origin - spawnedAt);
  let prev = 0;
  return STAGES.map((s) => {
    const at = s.until === 'exit' ? totalMs : (laps.get(s.until) ?? NaN) + offset;
    const span = at - prev;
    if (Number.isFinite(at)) prev = at;
    return span;
  });
}

function figure(name: string, xs: number[]): BenchFigure {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return { name, medianMs: null, minMs: null, maxMs: null };
  const mid = Math.floor(s.length / 2);
  const med = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  const r = (v: number): number => Math.round(v * 100) / 100;
  return { name, medianMs: r(med), minMs: r(s[0]!), maxMs: r(s[s.length - 1]!) };
}

function onPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

function lastLine(s: string): string {
  return s.trim().split('\n').filter(Boolean).pop() ?? '';
}

export async function warmBench(o: BenchOptions, flux: Readonly<FluxOptions>): Promise<BenchReport> {
  const runs = o.runs ?? DEFAULT_RUNS;
  if (!Number.isInteger(runs) || runs < 1 || runs > 10_000) {
    throw new FluxError('BAD_OPTION', `${String(o.runs)} runs is not a number flux bench can make.`, { hint: 'Give --runs a whole number from 1 to 10000.', exitCode: 125 });
  }
  const network = o.network ?? 'none';
  const root = packageRoot();
  const image = o.image ?? `oci:${join(root, 'fixtures/out/busybox')}`;
  const bin = join(root, 'bin/flux.js');
  const storeRoot = flux.store ?? defaultStoreRoot();
  const env: NodeJS.ProcessEnv = { ...process.env, FLUX_STORE: storeRoot };
  delete env.FLUX_TIMING;
  const { inspectImages } = await import('./image-records.js');
  // A named image must already be stored (a bench times runs, not pulls); the shipped busybox is
  // imported by the warm-up.
  if (o.image !== undefined) await inspectImages([image], storeRoot);
  const runArgs = [bin, 'run', '--pull', o.image === undefined ? 'missing' : 'never', '--network', network, image, '--', 'true'];
  // Two warm-ups: the first may import the image and writes the user's code cache, the second runs as every later one.
  for (let i = 0; i < 2; i++) {
    const r = await timed(process.execPath, runArgs, env);
    if (r.code !== 0) {
      throw new FluxError('BENCH_RUN', `a warm-up run of ${image} failed: ${lastLine(r.stderr) || `exit ${String(r.code)}`}.`, { hint: 'Check that `flux run IMAGE -- true` works on this machine (`flux info` lists what is missing).' });
    }
  }
  const inspected = (await inspectImages([image], storeRoot))[0] as { Layers?: { diffId: string }[] } | undefined;
  const layers = inspected?.Layers ?? [];
  const tree = layers.length === 1 ? join(storeRoot, 'layers', layers[0]!.diffId.replace(':', '/')) : undefined;
  const bwrap = onPath('bwrap');
  let bwrapSkip = bwrap === undefined ? 'bwrap is not installed' : tree === undefined ? `the image has ${layers.length} layers; bwrap takes one tree` : undefined;

  const spans: number[][] = STAGES.map(() => []);
  const totals: number[] = [];
  const nodeFloor: number[] = [];
  const bwrapFloor: number[] = [];
  const timingEnv = { ...env, FLUX_TIMING: '1' };
  // Round by round (flux, node, bwrap): a noisy moment of the machine lands on all three.
  for (let i = 0; i < runs; i++) {
    const r = await timed(process.execPath, runArgs, timingEnv);
    if (r.code !== 0) throw new FluxError('BENCH_RUN', `run ${i + 1} of ${image} failed: ${lastLine(r.stderr) || `exit ${String(r.code)}`}.`, { hint: 'Run `flux run IMAGE -- true` alone to see why.' });
    totals.push(r.ms);
    stageSpans(r.stderr, r.ms, r.spawnedAt).forEach((v, k) => spans[k]!.push(v));
    const n = await timed(process.execPath, ['-e', '0'], env);
    if (n.code === 0) nodeFloor.push(n.ms);
    if (bwrapSkip === undefined) {
      const b = await timed(bwrap!, ['--unshare-all', '--die-with-parent', '--ro-bind', tree!, '/', '--proc', '/proc', '--dev', '/dev', '/bin/true'], env);
      if (b.code === 0) bwrapFloor.push(b.ms);
      else bwrapSkip = `bwrap failed: ${lastLine(b.stderr) || `exit ${String(b.code)}`}`;
    }
  }
  const host = probeHost();
  return {
    image,
    runs,
    rootfs: host.overlay.used,
    network,
    stages: [...STAGES.map((s, k) => figure(s.name, spans[k]!)), figure('total', totals)],
    floors: [
      figure('node -e 0', nodeFloor),
      bwrapSkip === undefined ? figure('bwrap, same tree', bwrapFloor) : { ...figure('bwrap, same tree', []), skipped: bwrapSkip },
    ],
  };
}
