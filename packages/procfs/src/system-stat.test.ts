import { describe, expect, it } from 'vitest';
import { fixtureText } from './fixture.ts';
import { parseSystemStat } from './system-stat.ts';

describe('parseSystemStat', () => {
  it('reads btime and process counters', () => {
    const s = parseSystemStat(fixtureText('stat'));
    expect(s.bootTime).toBeGreaterThan(1_500_000_000);
    expect(s.processesCreated).toBeGreaterThan(0);
  });
  it('rejects a file without btime', () => {
    expect(() => parseSystemStat('cpu 1 2 3\n')).toThrow(/btime/);
  });
});
