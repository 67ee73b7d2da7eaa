import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ProcfsError } from './errors.ts';
import { parseStatus } from './status.ts';

const fixture = (pid: number) =>
  readFileSync(new URL(`../test/fixtures/proc/${pid}/status`, import.meta.url), 'utf8');

describe('parseStatus', () => {
  it('parses a current kernel status', () => {
    const s = parseStatus(fixture(100));
    expect(s.name.length).toBeGreaterThan(0);
    expect(s.uid).toHaveLength(4);
    expect(s.nsPid?.length).toBeGreaterThanOrEqual(1);
    expect(s.vmRssBytes! % 1024).toBe(0);
    expect(typeof s.sigBlocked).toBe('bigint');
    expect(s.capEffective).toBeGreaterThan(0n);
    expect(s.raw['Cpus_allowed_list']).toBe(s.cpusAllowedList);
  });

  it('leaves fields an old kernel lacks undefined, and keeps spaces in Name', () => {
    const s = parseStatus(fixture(103));
    expect(s.name).toBe('  spaces  ');
    expect(s.nsPid).toBeUndefined();
    expect(s.umask).toBeUndefined();
    expect(s.groups).toEqual([4, 24]);
    expect(s.sigBlocked).toBe(0x10000n);
    expect(s.vmPeakBytes).toBe(1000 * 1024);
  });

  it('rejects a truncated status as PARSE', () => {
    expect(() => parseStatus(fixture(102))).toThrow(ProcfsError);
    try {
      parseStatus(fixture(102));
    } catch (e) {
      expect(ProcfsError.is(e, 'PARSE')).toBe(true);
    }
  });

  it('unescapes a newline in Name', () => {
    const text = fixture(103).replace('Name:\t  spaces  ', 'Name:\tnew\\nline');
    expect(parseStatus(text).name).toBe('new\nline');
  });
});
