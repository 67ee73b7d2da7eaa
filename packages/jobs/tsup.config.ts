import { defineConfig } from 'tsup';
import { base } from '../../tsup.base.ts';

// Two entries: the library, and the periodic checkpointer's own process.
export default defineConfig({
  ...base,
  entry: { index: 'src/index.ts', checkpointer: 'src/schedule/checkpointer-main.ts' },
});
