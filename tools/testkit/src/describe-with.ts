import { describe, it } from 'vitest';
import { inCI, missing, type Requirement } from './requirements.ts';

/**
 * `describe` for tests that need real parts of the machine. When a
 * requirement is unmet: under CI the suite FAILS with a test naming what is
 * missing; on a developer's laptop (no CI) it is reported as skipped.
 */
export function describeWith(reqs: readonly Requirement[], name: string, body: () => void): void {
  const problems = missing(reqs);
  if (problems.length === 0) {
    describe(name, body);
    return;
  }
  if (inCI()) {
    describe(name, () => {
      it('has its requirements', () => {
        throw new Error(problems.join('\n'));
      });
    });
    return;
  }
  describe.skip(`${name} (${problems.join('; ')})`, body);
}
