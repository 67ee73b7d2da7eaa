import { describe, expect, it } from 'vitest';
import { binary, missing, which } from './requirements.ts';

describe('requirements', () => {
  it('finds a binary that exists and names one that does not', () => {
    expect(which('sh')).toMatch(/\/sh$/);
    const problems = missing([binary('sh'), binary('no-such-binary-cryopipe')]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('no-such-binary-cryopipe');
  });
});
