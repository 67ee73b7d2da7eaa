import { defineConfig } from 'tsup';
import { base } from '../../tsup.base.ts';

// Split at the binary's dynamic imports (src/commands/index.ts), so a
// command loads only its own module. What a command then loads from
// @cryopipe/jobs is up to the engine's own dist: see BENCHMARKS.md
// ("Start-up cost per command").
export default defineConfig({
  ...base,
  entry: ['src/index.ts', 'src/cli.ts'],
  splitting: true,
});
