import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/global-setup.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    // Two cores: keep native-addon-heavy suites from fighting over them.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
