import { defineConfig } from 'tsup';
import { base } from '../../tsup.base.ts';

export default defineConfig({
  ...base,
  // `images` is the @cryopipe/criu-client/images subpath: a pure decoder,
  // no native addon, no criu binary.
  entry: { index: 'src/index.ts', images: 'src/images/index.ts' },
});
