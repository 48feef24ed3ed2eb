import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Tests start real registries and real namespaces; two cores cannot run many at once.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
