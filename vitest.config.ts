import {defineConfig} from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // End-to-end tests spawn real servers; two cores: keep parallelism modest.
    pool: 'forks',
    poolOptions: {forks: {maxForks: 2, minForks: 1}},
    reporters: ['default'],
  },
});
