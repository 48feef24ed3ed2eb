import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { defaultJobs } from '../../src/matrix/default-jobs.js';

describe('the number of runs a matrix starts at once by default', () => {
  it('is the number of cores, and at least 4: the runs mostly wait on their helpers and the kernel', () => {
    expect(defaultJobs(1)).toBe(4);
    expect(defaultJobs(2)).toBe(4);
    expect(defaultJobs(4)).toBe(4);
    expect(defaultJobs(16)).toBe(16);
    expect(defaultJobs()).toBe(Math.max(availableParallelism(), 4));
  });
});
