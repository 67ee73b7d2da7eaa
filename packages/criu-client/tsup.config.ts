import { defineConfig } from 'tsup';
import { base } from '../../tsup.base.ts';

export default defineConfig({
  ...base,
  // `images` is the @cryopipe/criu-client/images subpath: a pure decoder,
  // no native addon, no criu binary.
  entry: { index: 'src/index.ts', images: 'src/images/index.ts' },
  // @bufbuild/protobuf is ~70 ES modules: resolving and linking them cost
  // every cryopipe command ~110 ms before it could send one request (BENCHMARKS.md,
  // "Start-up cost per command"). Bundled, they are one module of what we use.
  // It stays a dependency for the declarations' types.
  noExternal: ['@bufbuild/protobuf'],
  // Its licenses (Apache-2.0 AND BSD-3-Clause) travel with the package.
  banner: {
    js: '/* @cryopipe/criu-client: includes @bufbuild/protobuf (Apache-2.0 AND BSD-3-Clause), see THIRD-PARTY-NOTICES.md */',
  },
});
