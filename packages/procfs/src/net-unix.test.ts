import { describe, expect, it } from 'vitest';
import { fixtureText } from './fixture.ts';
import { parseNetUnix } from './net-unix.ts';

describe('parseNetUnix', () => {
  it('parses unbound, path and abstract sockets', () => {
    const all = parseNetUnix(fixtureText('100/net/unix'));
    expect(all.length).toBeGreaterThan(2);
    expect(all.find((s) => s.inode === 4242)).toEqual({
      inode: 4242,
      type: 'stream',
      state: 'unconnected',
      listening: true,
      path: '/run/with space.sock',
    });
    expect(all.find((s) => s.inode === 4243)).toMatchObject({
      type: 'dgram',
      path: '@abstract',
      listening: false,
    });
  });
  it('rejects text without the header', () => {
    expect(() => parseNetUnix('0000: 1 2 3 4 5 6\n')).toThrow(/header/);
  });
});
