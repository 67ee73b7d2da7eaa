import { defineProject } from 'vitest/config';

// Some tests drive the real criu: allow them time on a busy 2-core machine.
export default defineProject({ test: { name: 'jobs', testTimeout: 180_000, hookTimeout: 60_000 } });
