import { describe, expect, it } from 'vitest';
import { formatAge } from './commands/ps.ts';
import { closest, editDistance } from './suggest.ts';
import { plural } from './text.ts';

describe('closest', () => {
  const names = [
    'run',
    'ps',
    'checkpoint',
    'restore',
    'logs',
    'wait',
    'kill',
    'rm',
    'export',
    'import',
  ];

  it('counts a swapped pair of letters as one edit', () => {
    expect(editDistance('chekcpoint', 'checkpoint')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('finds typos and unique prefixes, and nothing for unrelated words', () => {
    expect(closest('chekpoint', names)).toBe('checkpoint');
    expect(closest('restroe', names)).toBe('restore');
    expect(closest('RUN', names)).toBe('run');
    expect(closest('exp', names)).toBe('export');
    expect(closest('frobnicate', names)).toBeUndefined();
    expect(closest('x', names)).toBeUndefined();
  });
});

describe('formatAge and plural', () => {
  it('uses one compact format at every scale', () => {
    expect(formatAge(999)).toBe('0s');
    expect(formatAge(42_000)).toBe('42s');
    expect(formatAge(5 * 60_000 + 7_000)).toBe('5m07s');
    expect(formatAge(3 * 3_600_000 + 12 * 60_000 + 59_000)).toBe('3h12m');
    expect(formatAge(2 * 86_400_000 + 4 * 3_600_000)).toBe('2d04h');
  });

  it('agrees the noun with the count', () => {
    expect(plural(1, 'checkpoint')).toBe('1 checkpoint');
    expect(plural(0, 'checkpoint')).toBe('0 checkpoints');
    expect(plural(2, 'problem blocks', 'problems block')).toBe('2 problems block');
  });
});
