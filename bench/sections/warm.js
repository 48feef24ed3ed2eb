/**
 * Warm start: `true` in busybox with everything already local. flux and podman with
 * --network none and with their default network (slirp4netns); bwrap on the very tree flux
 * unpacked (the floor of any sandbox); `node -e 0` (the floor of any Node program).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { interleave } from '../lib/loop.js';
import { must, snapshotProcesses, waitForExit } from '../lib/proc.js';
import { topOfProfile } from '../lib/cpu-profile.js';

export function prepareWarmStore(ctx, images) {
  const store = join(ctx.work, 'warm-store');
  if (!existsSync(store)) ctx.freshDir('warm-store');
  for (const image of images) {
    const r = ctx.flux(['pull', '-q', ctx.ref(image)], { store });
    if (r.code !== 0) throw new Error(`flux pull ${image}: ${r.stderr.trim()}`);
  }
  return store;
}

/** The unpacked layer flux keeps for a one-layer image: the same tree bwrap gets. */
export function unpackedTree(ctx, store, image) {
  const diffId = ctx.fixtures[image]?.diffIds?.[0];
  if (!diffId) return undefined;
  const dir = join(store, 'layers', diffId.replace(':', '/'));
  return existsSync(join(dir, 'bin')) ? dir : undefined;
}

/**
 * `podman run --rm`, timed until it returns, as its users see it; then, untimed, until the
 * conmon and slirp4netns it left behind for the container's cleanup are gone (others that ran
 * before it are not waited for), so that the next contender does not run alongside them.
 */
function podmanRun(ctx, args) {
  const names = ['conmon', 'slirp4netns', 'podman'];
  const before = snapshotProcesses(names);
  const r = ctx.podman(['run', '--rm', ...args]);
  waitForExit(names, before);
  return r;
}

export function benchWarm(ctx) {
  const store = prepareWarmStore(ctx, ['busybox']);
  const ref = ctx.ref('busybox');
  const pulled = ctx.podman(['pull', '-q', ref]);
  const tree = unpackedTree(ctx, store, 'busybox');
  const contenders = [
    { name: 'flux none', run: () => ctx.flux(['run', '--network', 'none', ref, '--', 'true'], { store }) },
    { name: 'podman none', run: () => (pulled.code ? pulled : podmanRun(ctx, ['--network', 'none', ref, 'true'])) },
    { name: 'flux default', run: () => ctx.flux(['run', ref, '--', 'true'], { store }) },
    { name: 'podman default', run: () => (pulled.code ? pulled : podmanRun(ctx, [ref, 'true'])) },
    {
      name: 'bwrap',
      run: () => (tree ? ctx.run('bwrap', ['--unshare-all', '--die-with-parent', '--ro-bind', tree, '/', '--proc', '/proc', '--dev', '/dev', '/bin/true']) : { code: 1, stderr: 'no unpacked busybox tree in the flux store' }),
    },
    { name: 'node -e 0', run: () => ctx.run(process.execPath, ['-e', '0']) },
  ];
  const res = interleave(contenders, { runs: ctx.warmRuns ?? ctx.runs, warmups: 2, label: 'warm start' });

  // Peak RSS of a warm run, and where the time goes (FLUX_TIMING phases, a CPU profile).
  const rss = [];
  const phases = {};
  for (let i = 0; i < ctx.runs; i++) {
    const r = ctx.flux(['run', '--network', 'none', ref, '--', 'true'], { store, rss: true, env: { FLUX_TIMING: '1' } });
    if (r.rssKb !== undefined) rss.push(r.rssKb);
    for (const m of r.stderr.matchAll(/^flux: timing: (.+) ([\d.]+) ms$/gm)) (phases[m[1]] ??= []).push(Number(m[2]));
  }
  const profDir = ctx.freshDir('cpu-prof');
  must(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, ctx.fluxBin, 'run', '--network', 'none', ref, '--', 'true'], { env: { ...ctx.baseEnv, FLUX_STORE: store }, cwd: ctx.app });
  let profile;
  try {
    profile = topOfProfile(profDir);
  } catch (err) {
    profile = { error: String(err?.message ?? err) };
  }
  return { samples: res, rssKb: rss, phases, profile, tree: tree ?? null };
}

