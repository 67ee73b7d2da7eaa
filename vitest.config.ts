import { defineConfig } from 'vitest/config';

// One run over every package, so scripts/test.sh can count the real results.
export default defineConfig({
  test: {
    projects: ['packages/*', 'tools/*'],
  },
});
