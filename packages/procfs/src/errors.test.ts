import { describe, expect, it } from 'vitest';
import { ProcfsError } from './errors.ts';

describe('ProcfsError', () => {
  it('maps ENOENT and ESRCH to NOT_FOUND, EACCES/EPERM to PERMISSION_DENIED', () => {
    const sys = (code: string) => Object.assign(new Error(code), { code });
    expect(ProcfsError.fromSystem(sys('ENOENT'), '/proc/1/stat').code).toBe('NOT_FOUND');
    expect(ProcfsError.fromSystem(sys('ESRCH'), '/proc/1/stat').code).toBe('NOT_FOUND');
    expect(ProcfsError.fromSystem(sys('EACCES'), '/proc/1/fd').code).toBe('PERMISSION_DENIED');
    expect(ProcfsError.fromSystem(sys('EPERM'), '/proc/1/fd').code).toBe('PERMISSION_DENIED');
    const io = ProcfsError.fromSystem(sys('EIO'), '/proc/1/x');
    expect(io.code).toBe('IO');
    expect(io.cause).toBeInstanceOf(Error);
  });

  it('is recognised across package copies by its Symbol.for brand', () => {
    const foreign = new Error('x');
    Object.defineProperty(foreign, Symbol.for('@cryopipe/procfs.ProcfsError'), { value: true });
    Object.assign(foreign, { code: 'PARSE' });
    expect(ProcfsError.is(foreign)).toBe(true);
    expect(ProcfsError.is(foreign, 'PARSE')).toBe(true);
    expect(ProcfsError.is(new Error('x'))).toBe(false);
    expect(ProcfsError.is(null)).toBe(false);
  });
});
