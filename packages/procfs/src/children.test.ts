import { describe, expect, it } from 'vitest';
import { parseChildren } from './children.ts';
import { fixtureText } from './fixture.ts';

describe('parseChildren', () => {
  it('parses the space-separated list with its trailing space', () => {
    expect(parseChildren(fixtureText('100/task/100/children'))).toEqual([101, 102]);
    expect(parseChildren('')).toEqual([]);
  });
  it('rejects non-numbers', () => {
    expect(() => parseChildren('12 x')).toThrow(/children/);
  });
});
