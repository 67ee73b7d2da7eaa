import { defineProject } from 'vitest/config';

// Slow by nature (cross builds, qemu, npm installs): generous timeouts, one file at a time.
export default defineProject({
  test: { name: 'packaging', testTimeout: 120_000, hookTimeout: 600_000, fileParallelism: false },
});
