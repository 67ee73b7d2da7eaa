import { describe, expect, it } from 'vitest';
import { fixtureText } from './fixture.ts';
import { parseMountInfo } from './mountinfo.ts';

describe('parseMountInfo', () => {
  it('parses real lines and unescapes octal, with optional fields', () => {
    const mounts = parseMountInfo(fixtureText('100/mountinfo'));
    expect(mounts.length).toBeGreaterThan(3);
    expect(mounts.some((m) => m.mountPoint === '/proc' && m.fsType === 'proc')).toBe(true);
    expect(mounts.at(-1)).toMatchObject({
      mountId: 99,
      mountPoint: '/mnt/with space',
      source: 'my src',
      optionalFields: ['shared:7', 'master:3'],
      fsType: 'tmpfs',
    });
  });
  it('rejects a line without the "-" separator', () => {
    expect(() => parseMountInfo('1 2 0:1 / / rw tmpfs x rw\n')).toThrow(/mountinfo/);
  });
});
