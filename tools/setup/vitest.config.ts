import { defineProject } from 'vitest/config';

export default defineProject({ test: { name: 'setup', testTimeout: 120_000 } });
