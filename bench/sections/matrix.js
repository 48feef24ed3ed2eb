/** One `flux matrix` of cached images against each image run alone, round by round. */
import { interleave } from '../lib/loop.js';
import { summary, pairRatios } from '../lib/stats.js';
import { prepareWarmStore } from './warm.js';

export function benchMatrix(ctx, images) {
  const store = prepareWarmStore(ctx, images);
  const refs = images.map((i) => ctx.ref(i));
  const contenders = [
    { name: 'matrix', run: () => ctx.flux(['matrix', '--network', 'none', refs.join(','), '--', 'true'], { store }) },
    ...images.map((image, k) => ({ name: image, run: () => ctx.flux(['run', '--network', 'none', refs[k], '--', 'true'], { store }) })),
  ];
  const res = interleave(contenders, { runs: ctx.runs, warmups: 1, label: 'matrix' });
  // The slowest single run of each round is what the matrix is held against.
  const slowest = [];
  for (let i = 0; i < ctx.runs; i++) slowest.push(Math.max(...images.map((im) => res[im]?.samples[i] ?? NaN)));
  return { images, samples: res, slowestSingle: slowest, ratio: summary(pairRatios(res.matrix.samples, slowest)) };
}
