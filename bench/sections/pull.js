/**
 * Cold pull + unpack from the local registry: flux into an empty store, `podman pull` into an
 * emptied podman store, `skopeo copy` into an empty directory (skopeo does not unpack: it is
 * the floor of fetching and verifying the blobs).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { topOfProfile } from '../lib/cpu-profile.js';
import { interleave } from '../lib/loop.js';

export function benchPull(ctx, images) {
  const out = {};
  for (const image of images) {
    const ref = ctx.ref(image);
    const fluxStore = join(ctx.work, 'pull-flux');
    const skopeoDir = join(ctx.work, 'pull-skopeo');
    const contenders = [
      {
        name: 'flux',
        prepare: () => {
          ctx.freshDir('pull-flux');
        },
        run: () => ctx.flux(['pull', '-q', ref], { store: fluxStore, rss: true }),
      },
      {
        name: 'podman',
        prepare: () => {
          ctx.podman(['rmi', '-a', '-f']);
        },
        run: () => ctx.podman(['pull', '-q', ref], { rss: true }),
      },
      {
        name: 'skopeo',
        prepare: () => rmSync(skopeoDir, { recursive: true, force: true }),
        run: () => ctx.run('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `dir:${skopeoDir}`], { rss: true }),
      },
    ];
    out[image] = interleave(contenders, { runs: ctx.runsFor(image), warmups: 1, label: `pull ${image}` });
  }
  ctx.podman(['rmi', '-a', '-f']);
  // Where a cold pull of the smallest image spends its time.
  let profile;
  try {
    const store = ctx.freshDir('pull-flux');
    const profDir = ctx.freshDir('cpu-prof-pull');
    ctx.flux(['pull', '-q', ctx.ref(images[0])], { store, nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir] });
    profile = { image: images[0], ...topOfProfile(profDir) };
  } catch (err) {
    profile = { error: String(err?.message ?? err) };
  }
  return { images: out, profile };
}
