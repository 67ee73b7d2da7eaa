import { describe, expect, it } from 'vitest';
import { fixtureText } from './fixture.ts';
import { parseLimits } from './limits.ts';

describe('parseLimits', () => {
  it('parses every row with unlimited as null', () => {
    const limits = parseLimits(fixtureText('100/limits'));
    expect(limits['Max cpu time']).toEqual({ soft: null, hard: null, units: 'seconds' });
    expect(limits['Max open files']?.soft).toBeGreaterThan(0);
    expect(limits['Max realtime timeout']?.units).toBe('us');
    expect(Object.keys(limits)).toHaveLength(16);
  });
  it('rejects text without the header', () => {
    expect(() => parseLimits('Max cpu time unlimited unlimited seconds\n')).toThrow(/header/);
  });
});
