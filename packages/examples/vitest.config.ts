import { defineProject } from 'vitest/config';

// Real encodes with real checkpoints: minutes, not milliseconds.
export default defineProject({
  test: { name: 'examples', testTimeout: 600_000, hookTimeout: 60_000 },
});
