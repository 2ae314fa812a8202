import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    // Starts a throwaway Postgres unless $TOLLGATE_TEST_DATABASE_URL names one, and installs
    // Debian's chromium for the dashboard test when it is missing (see the files).
    globalSetup: ['test/support/global-postgres.ts', 'test/support/global-chromium.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The JSON report lets .ci/run end with a plain "N passed, N failed" line.
    reporters: ['default', ['json', { outputFile: '.vitest/results.json' }]],
  },
});
