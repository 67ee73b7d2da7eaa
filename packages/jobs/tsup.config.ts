import { defineConfig } from 'tsup';
import { base } from '../../tsup.base.ts';

// Entries: the library; its `./store` subpath (the job store without criu-client,
// protobuf or tar-stream: what `cryopipe ps`, `logs` and `wait` load); the
// periodic checkpointer's own process; the background sealer's
// (integrity/seal.ts). The code they share is in chunks, so `./store` and the
// library hand out the same classes. Only the two library entries have declarations.
export default defineConfig({
  ...base,
  entry: {
    index: 'src/index.ts',
    store: 'src/store-entry.ts',
    checkpointer: 'src/schedule/checkpointer-main.ts',
    sealer: 'src/integrity/sealer-main.ts',
  },
  dts: { entry: { index: 'src/index.ts', store: 'src/store-entry.ts' } },
});
