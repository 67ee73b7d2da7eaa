import { defineConfig } from 'tsup';
import { base } from '../../tsup.base.ts';

// Two entries: the library, and the periodic checkpointer's own process; the
// code they share is one chunk. Only the library has declarations.
export default defineConfig({
  ...base,
  entry: { index: 'src/index.ts', checkpointer: 'src/schedule/checkpointer-main.ts' },
  dts: { entry: { index: 'src/index.ts' } },
});
