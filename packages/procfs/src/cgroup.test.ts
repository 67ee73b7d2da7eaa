import { describe, expect, it } from 'vitest';
import { parseCgroup } from './cgroup.ts';
import { fixtureText } from './fixture.ts';

describe('parseCgroup', () => {
  it('parses v1 hierarchies', () => {
    const groups = parseCgroup(fixtureText('100/cgroup'));
    expect(groups.length).toBeGreaterThan(0);
    expect(groups.every((g) => g.path.startsWith('/'))).toBe(true);
  });
  it('parses the v2 line, keeping ":" inside the path', () => {
    expect(parseCgroup(fixtureText('100/cgroup-v2'))).toEqual([
      { hierarchyId: 0, controllers: [], path: '/user.slice/a:b.scope' },
    ]);
  });
});
