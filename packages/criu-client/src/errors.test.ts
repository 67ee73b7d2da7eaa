import { describe, expect, it } from 'vitest';
import { CriuError } from './errors.ts';

describe('CriuError', () => {
  it('is recognised by brand, also from another copy of the package', () => {
    const err = new CriuError('boom', {
      code: 'REQUEST_FAILED',
      request: 'DUMP',
      crErrno: 3,
      logLines: ['x'],
    });
    expect(CriuError.is(err)).toBe(true);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({
      name: 'CriuError',
      code: 'REQUEST_FAILED',
      request: 'DUMP',
      crErrno: 3,
    });
    // What a duplicate copy's instance looks like: same global symbol, other class.
    const foreign = Object.assign(new Error('x'), {
      [Symbol.for('@cryopipe/criu-client/CriuError')]: true,
    });
    expect(CriuError.is(foreign)).toBe(true);
    expect(CriuError.is(new Error('plain'))).toBe(false);
    expect(CriuError.is(null)).toBe(false);
  });
});
