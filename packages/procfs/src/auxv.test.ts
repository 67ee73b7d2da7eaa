import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAuxv } from './auxv.ts';

describe('parseAuxv', () => {
  it('finds page size and clock ticks in a captured auxv', () => {
    const bytes = readFileSync(new URL('../test/fixtures/proc/self/auxv', import.meta.url));
    expect(parseAuxv(bytes)).toEqual({ pageSize: 4096, clockTicks: 100 });
  });
  it('returns nothing for an empty or truncated vector', () => {
    expect(parseAuxv(new Uint8Array(0))).toEqual({});
    expect(parseAuxv(new Uint8Array(10))).toEqual({});
  });
});
