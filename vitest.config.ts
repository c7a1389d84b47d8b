import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/global-setup.ts'],
    // With no endpoint, `run` would start the tiny local model: the suites that test runs
    // without a model say so; tests/cli-local-model.test.ts turns it back on.
    env: { TREESYNTH_LOCAL_MODEL: 'off' },
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    // Two cores: keep native-addon-heavy suites from fighting over them.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
