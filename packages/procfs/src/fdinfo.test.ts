import { describe, expect, it } from 'vitest';
import { ProcfsError } from './errors.ts';
import { parseFdInfo } from './fdinfo.ts';
import { fixtureText } from './fixture.ts';

describe('parseFdInfo', () => {
  it('parses a real fdinfo', () => {
    const info = parseFdInfo(fixtureText('100/fdinfo/0'));
    expect(info.pos).toBeGreaterThanOrEqual(0);
    expect(['read', 'write', 'read-write']).toContain(info.accessMode);
    expect(info.mntId).toBeGreaterThan(0);
  });
  it('keeps kind-specific lines and decodes flags', () => {
    const info = parseFdInfo(fixtureText('100/fdinfo/eventfd'));
    expect(info.accessMode).toBe('read-write');
    expect(info.ino).toBe(1057);
    expect(info.extra).toEqual([
      ['eventfd-count', '0'],
      ['eventfd-id', '3'],
    ]);
  });
  it('leaves ino undefined on kernels before 5.14 and sees O_APPEND', () => {
    const info = parseFdInfo(fixtureText('100/fdinfo/old-kernel'));
    expect(info.ino).toBeUndefined();
    expect(info.accessMode).toBe('write');
    expect(info.append).toBe(true);
  });
  it('rejects a truncated fdinfo as PARSE', () => {
    expect(() => parseFdInfo(fixtureText('100/fdinfo/truncated'))).toThrow(ProcfsError);
  });
});
