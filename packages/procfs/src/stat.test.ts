import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ProcfsError } from './errors.ts';
import { parseStat } from './stat.ts';

const fixture = (pid: number) =>
  readFileSync(new URL(`../test/fixtures/proc/${pid}/stat`, import.meta.url), 'utf8');
const ctx = { clockTicks: 100, pageSize: 4096, bootTimeMs: 1_000_000 };

describe('parseStat', () => {
  it('parses a real stat line and converts units', () => {
    const s = parseStat(fixture(100), ctx);
    expect(s.pid).toBe(100);
    expect(s.comm).toMatch(/^\S+$/);
    expect(s.ppid).toBeGreaterThan(0);
    expect(s.rssBytes % 4096).toBe(0);
    expect(s.startTimeMs).toBe(1_000_000 + s.startTicks * 10);
    expect(s.exitCode).toBe(0);
  });

  it('takes comm up to the LAST parenthesis: "a) (b c"', () => {
    const s = parseStat(fixture(101), ctx);
    expect(s.comm).toBe('a) (b c');
    expect(s.state).toMatch(/^[RSDZTtXIP]$/);
  });

  it('keeps a newline inside comm', () => {
    const s = parseStat(fixture(102), ctx);
    expect(s.comm).toBe('new\nline');
    expect(s.ttyNr).toBe(34816);
    expect(s.tpgid).toBe(102);
  });

  it('keeps leading and trailing spaces of comm; fields an old kernel lacks are undefined', () => {
    const s = parseStat(fixture(103), ctx);
    expect(s.comm).toBe('  spaces  ');
    expect(s.blockIoDelayTicks).toBe(0);
    expect(s.guestTime).toBeUndefined();
    expect(s.exitCode).toBeUndefined();
  });

  it('reads the exit code of a zombie', () => {
    const s = parseStat(fixture(105), ctx);
    expect(s.state).toBe('Z');
    expect(s.exitCode).toBe(256);
  });

  it('rejects a truncated line with a PARSE error naming the path', () => {
    const err = (() => {
      try {
        parseStat(fixture(104), ctx, '/proc/104/stat');
      } catch (e) {
        return e;
      }
    })();
    expect(ProcfsError.is(err, 'PARSE')).toBe(true);
    expect((err as ProcfsError).path).toBe('/proc/104/stat');
    expect((err as ProcfsError).message).toMatch(/truncated/);
  });

  it('rejects text without "(comm)"', () => {
    expect(() => parseStat('12 S 1 2 3')).toThrow(/comm/);
  });
});
