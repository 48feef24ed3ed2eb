/**
 * flux bench's stages from one run's FLUX_TIMING lines: spans between chosen steps of flux and
 * its helper, placed on the caller's clock by flux's origin line, so that they add up to the
 * total measured from outside.
 */
import { describe, it, expect } from 'vitest';
import { stageSpans } from '../../src/library/warm-bench.js';

const LINES = [
  'flux: timing: origin 1000002.000',
  'flux: timing: cli 30.0 ms',
  'flux: timing: modules 31.0 ms',
  'flux: timing: spawn 32.0 ms',
  'flux: timing: helper started 35.0 ms',
  'flux: timing: helper started 35.5 ms',
  'flux: timing: helper unshared 36.0 ms',
  'flux: timing: helper mapped 38.0 ms',
  'flux: timing: helper root mounted 41.0 ms',
  'flux: timing: helper go 43.0 ms',
  'flux: timing: helper command exited 44.0 ms',
  'flux: timing: helper done 47.0 ms',
];

describe('stageSpans', () => {
  it('gives the spans between the steps, the gap before flux\'s own clock in the first, teardown up to the exit', () => {
    // Spawned 2 ms before flux's origin; the process exited 50 ms after the spawn.
    expect(stageSpans(LINES.join('\n'), 50, 1000000)).toEqual([32, 5, 3, 3, 2, 1, 4]);
  });

  it('adds up to the total', () => {
    const spans = stageSpans(LINES.join('\n'), 61.5, 1000000);
    expect(spans.reduce((a, b) => a + b, 0)).toBeCloseTo(61.5, 6);
  });

  it('leaves a stage whose step is missing as NaN and gives its time to the next', () => {
    const spans = stageSpans(LINES.filter((l) => !l.includes('root mounted')).join('\n'), 50, 1000000);
    expect(spans[3]).toBeNaN();
    expect(spans[4]).toBe(5);
  });

  it('without an origin line, times from flux\'s own start', () => {
    expect(stageSpans(LINES.slice(1).join('\n'), 50, 1000000)[0]).toBe(30);
  });
});
