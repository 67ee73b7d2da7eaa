import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseEnviron } from './environ.ts';

const fixture = (name: string) =>
  readFileSync(new URL(`../test/fixtures/proc/100/${name}`, import.meta.url), 'utf8');

describe('parseEnviron', () => {
  it('splits NAME=value at the first "=" and keeps odd entries', () => {
    const env = parseEnviron(fixture('environ'));
    expect(env.get('PATH')).toBe('/usr/bin:/bin');
    expect(env.get('EMPTY')).toBe('');
    expect(env.get('WEIRD')).toBe('');
    expect(env.get('X')).toBe('a=b');
  });
});
