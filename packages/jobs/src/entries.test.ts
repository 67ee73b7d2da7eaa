// @cryopipe/jobs/store is the light entry for tools that only look at jobs;
// @cryopipe/jobs must hand out the very same bindings (an `instanceof
// JobError` or a JobStore must work across the two).
import { expect, it } from 'vitest';
import * as engine from './index.ts';
import * as store from './store-entry.ts';

it('exports everything @cryopipe/jobs/store has, as the same bindings', () => {
  const names = Object.keys(store);
  expect(names.length).toBeGreaterThan(10);
  for (const name of names)
    expect([name, (engine as Record<string, unknown>)[name]]).toEqual([
      name,
      (store as Record<string, unknown>)[name],
    ]);
  expect(engine.JobStore).toBe(store.JobStore);
  expect(engine.JobError).toBe(store.JobError);
});
