import { defineConfig } from 'tsup';
import { base } from '../../tsup.base.ts';

// Split at the binary's dynamic imports (src/commands/index.ts), so a
// command loads only its own module. What a command then loads from
// @cryopipe/jobs is up to the engine's own dist: see BENCHMARKS.md
// ("Start-up cost per command"). The library (index) and the `cryopipe` bin
// (cli) share those chunks instead of being two full bundles; only the
// library has declarations (the bin exports nothing).
export default defineConfig({
  ...base,
  entry: ['src/index.ts', 'src/cli.ts'],
  splitting: true,
  dts: { entry: 'src/index.ts' },
});
