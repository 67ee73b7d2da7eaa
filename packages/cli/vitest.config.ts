import { defineProject } from 'vitest/config';

// End-to-end tests drive the real criu: allow them time on a busy 2-core machine.
export default defineProject({ test: { name: 'cli', testTimeout: 180_000, hookTimeout: 60_000 } });
