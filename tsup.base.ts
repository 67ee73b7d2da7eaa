import type { Options } from 'tsup';

// Shared by every package's tsup.config.ts: ESM for Node 20 with declarations.
// - splitting: a package with two entries (the cli's library and its bin, the
//   engine and its checkpointer process, criu-client and its images subpath)
//   ships the code they share once, in a chunk, not in two full bundles.
// - no source maps: the bundles are unminified ESM that keep every name and
//   most of the layout of src/, so a stack trace is readable as it is; the
//   maps would double the tarballs for little (tests run on src/ anyway).
export const base: Options = {
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: true,
  sourcemap: false,
  clean: true,
  splitting: true,
};
