import { describe, expect, it } from 'vitest';
import { parseNamespaceLink } from './ns.ts';

describe('parseNamespaceLink', () => {
  it('parses type and inode', () => {
    expect(parseNamespaceLink('net:[4026531840]')).toEqual({ type: 'net', inode: 4026531840 });
    expect(parseNamespaceLink('pid_for_children:[4026531836]').type).toBe('pid_for_children');
  });
  it('rejects other targets', () => {
    expect(() => parseNamespaceLink('/dev/null')).toThrow(/type:\[inode\]/);
  });
});
