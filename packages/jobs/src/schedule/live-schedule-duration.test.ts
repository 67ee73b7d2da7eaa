import { describe, expect, it } from 'vitest';
import { formatInterval, parseDuration, parseKeep } from './schedule-duration.ts';

describe('schedule durations', () => {
  it('reads seconds, minutes, hours and combinations', () => {
    expect(parseDuration('90s', '--every')).toBe(90_000);
    expect(parseDuration('5m', '--every')).toBe(300_000);
    expect(parseDuration('1h', '--every')).toBe(3_600_000);
    expect(parseDuration('1h30m', '--every')).toBe(5_400_000);
    expect(parseDuration('2m5s', '--every')).toBe(125_000);
  });

  it('refuses numbers without a unit, unknown units, disorder and zero', () => {
    for (const bad of ['5', '5d', '30s1m', '', ' ', '-5m', '1.5m', '0s', 'm'])
      expect(() => parseDuration(bad, '--every'), bad).toThrow(/--every/);
  });

  it('prints intervals the way they are typed', () => {
    expect(formatInterval(300_000)).toBe('5m');
    expect(formatInterval(5_400_000)).toBe('1h30m');
    expect(formatInterval(90_000)).toBe('1m30s');
    expect(parseDuration(formatInterval(3_725_000), 'x')).toBe(3_725_000);
  });

  it('keeps at least one checkpoint', () => {
    expect(parseKeep('3')).toBe(3);
    for (const bad of ['0', '-1', '1.5', 'two', '']) expect(() => parseKeep(bad), bad).toThrow();
  });
});
