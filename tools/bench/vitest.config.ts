import { defineProject } from 'vitest/config';

// The benches' quick runs freeze and restore real jobs: one file at a time.
export default defineProject({ test: { name: 'bench', fileParallelism: false } });
