import { defineConfig } from 'vitest/config';
import path from 'node:path';

export default defineConfig({
  resolve: { alias: { '@': path.resolve(import.meta.dirname) } },
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    // Removes the temp directories a test file made (test/helpers/temp-dirs.ts) when it ends.
    setupFiles: ['test/helpers/temp-dirs.setup.ts'],
    include: ['test/**/*.test.ts', 'lib/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Two cores: database-heavy files in parallel beyond this only thrash.
    maxWorkers: 2,
    pool: 'forks',
  },
});
