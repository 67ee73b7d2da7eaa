import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'criu-client',
    // Builds the native addon into dist/native when a fresh checkout lacks it.
    globalSetup: ['./test/global-setup.ts'],
    // criu tests freeze and restore real process trees: keep them sequential.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
