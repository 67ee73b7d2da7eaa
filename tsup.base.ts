import type { Options } from 'tsup';

// Shared by every package's tsup.config.ts: ESM for Node 20 with declarations.
export const base: Options = {
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: true,
  sourcemap: true,
  clean: true,
  splitting: false,
};
