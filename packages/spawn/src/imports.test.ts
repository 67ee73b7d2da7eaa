import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { importCycles } from '../test/import-cycles.ts';

it('the modules of src import each other without a cycle', () => {
  expect(importCycles(fileURLToPath(new URL('.', import.meta.url)))).toEqual([]);
});
