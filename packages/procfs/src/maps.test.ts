import { describe, expect, it } from 'vitest';
import { fixtureText } from './fixture.ts';
import { parseMaps } from './maps.ts';

describe('parseMaps', () => {
  it('parses mappings, paths with spaces and deleted files', () => {
    const maps = parseMaps(fixtureText('100/maps'));
    expect(maps.length).toBeGreaterThan(2);
    expect(maps[0]!.end).toBeGreaterThan(maps[0]!.start);
    const memfd = maps.at(-1)!;
    expect(memfd).toMatchObject({
      pathname: '/memfd:with space',
      deleted: true,
      shared: true,
      write: true,
      inode: 1234,
    });
  });
  it('accepts anonymous mappings and rejects garbage', () => {
    expect(parseMaps('7f00-7f01 rw-p 00000000 00:00 0 \n')[0]!.pathname).toBe('');
    expect(() => parseMaps('nonsense\n')).toThrow(/maps/);
  });
});
