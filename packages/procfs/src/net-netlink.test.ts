import { describe, expect, it } from 'vitest';
import { fixtureText } from './fixture.ts';
import { parseNetNetlink } from './net-netlink.ts';

describe('parseNetNetlink', () => {
  it('parses protocol, port id and inode', () => {
    const all = parseNetNetlink(fixtureText('100/net/netlink'));
    expect(all.length).toBe(3);
    expect(all.every((s) => Number.isInteger(s.inode) && s.protocol >= 0)).toBe(true);
  });
  it('rejects text without the header', () => {
    expect(() => parseNetNetlink('00 0 0\n')).toThrow(/header/);
  });
});
