import { createRequire } from 'node:module';

// Read from package.json so `cryopipe --version` can't drift from the release.
export const VERSION: string = (
  createRequire(import.meta.url)('../package.json') as { version: string }
).version;
