import { describe, expect, it } from 'vitest';
import { decodeTtyNr, splitDeviceNumber, terminalDevice } from './tty.ts';

describe('decodeTtyNr', () => {
  it('names pts, vt, serial and console', () => {
    expect(decodeTtyNr(0)).toBeUndefined();
    expect(decodeTtyNr(34816)).toMatchObject({ kind: 'pts', index: 0, path: '/dev/pts/0' });
    expect(decodeTtyNr(34819)?.path).toBe('/dev/pts/3');
    expect(decodeTtyNr((4 << 8) | 1)).toMatchObject({ kind: 'vt', path: '/dev/tty1' });
    expect(decodeTtyNr((4 << 8) | 64)).toMatchObject({ kind: 'serial', path: '/dev/ttyS0' });
    expect(decodeTtyNr((5 << 8) | 1)).toMatchObject({ kind: 'console', path: '/dev/console' });
  });
  it('decodes pts indexes beyond 255 (minor bits above 8)', () => {
    const nr = (136 << 8) | (300 & 0xff) | ((300 & ~0xff) << 12);
    expect(decodeTtyNr(nr)).toMatchObject({ kind: 'pts', index: 300 });
  });
});

describe('splitDeviceNumber', () => {
  it('splits a dev_t as glibc does', () => {
    expect(splitDeviceNumber((1 << 8) | 3)).toEqual({ major: 1, minor: 3 });
    expect(splitDeviceNumber((136 << 8) | (300 & 0xff) | ((300 & ~0xff) << 12))).toEqual({
      major: 136,
      minor: 300,
    });
    expect(terminalDevice(5, 2).kind).toBe('ptmx');
  });
});
