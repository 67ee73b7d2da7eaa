import { defineConfig } from 'tsup';
import { base } from '../../tsup.base.ts';

// The library (index) and the `cryopipe` bin (cli) share one chunk; only the
// library has declarations (the bin exports nothing).
export default defineConfig({
  ...base,
  entry: ['src/index.ts', 'src/cli.ts'],
  dts: { entry: 'src/index.ts' },
});
