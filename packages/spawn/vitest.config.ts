import { defineProject } from 'vitest/config';

// The launcher is compiled before the tests so they always run the current launcher.c.
export default defineProject({
  test: { name: 'spawn', globalSetup: ['./test/build-launcher.setup.ts'] },
});
