/**
 * Store footprint: two images sharing their base layer pulled into one store, against the same
 * two pulled into stores of their own, and against the bytes their manifests name.
 */
import { spawnSync } from 'node:child_process';

/** Apparent bytes under dir; through `podman unshare` (the user's full id map) when it can, since layer dirs owned by mapped ids may be closed to the user itself. */
function duWith(ctx) {
  const viaPodman = spawnSync('podman', ['unshare', 'true'], { env: ctx.podmanEnv, stdio: 'ignore' }).status === 0;
  return (dir) => {
    const [cmd, args] = viaPodman ? ['podman', ['unshare', 'du', '-sb', dir]] : ['du', ['-sb', dir]];
    const r = spawnSync(cmd, args, { env: ctx.podmanEnv, encoding: 'utf8' });
    return Number((r.stdout ?? '').split('\t')[0]);
  };
}

const manifestBytes = (ctx, image) => ctx.manifestBytes[image];

export function benchStore(ctx, [a, b]) {
  const du = duWith(ctx);
  const pull = (store, image) => {
    const r = ctx.flux(['pull', '-q', ctx.ref(image)], { store });
    if (r.code !== 0) throw new Error(`flux pull ${image}: ${r.stderr.trim()}`);
  };
  const both = ctx.freshDir('store-both');
  pull(both, a);
  pull(both, b);
  const alone = {};
  for (const image of [a, b]) {
    const d = ctx.freshDir(`store-${image}`);
    pull(d, image);
    alone[image] = du(d);
  }
  const images = ctx.flux(['images'], { store: both });
  return {
    images: [a, b],
    bothBytes: du(both),
    aloneBytes: alone,
    sumAloneBytes: alone[a] + alone[b],
    manifestBytes: { [a]: manifestBytes(ctx, a), [b]: manifestBytes(ctx, b) },
    sumManifestBytes: manifestBytes(ctx, a) + manifestBytes(ctx, b),
    fluxImages: images.stdout.trim(),
  };
}
