import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assertSupportedVersion, findCriu } from './criu-binary.ts';
import { CriuError } from './errors.ts';

describe('findCriu', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'find-criu-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function fakeCriu(name = 'criu'): string {
    const path = join(dir, name);
    writeFileSync(path, '#!/bin/sh\n');
    chmodSync(path, 0o755);
    return path;
  }

  it('prefers the explicit path, then CRIU_BIN, then PATH', () => {
    const explicit = fakeCriu('criu-explicit');
    const fromEnv = fakeCriu('criu-env');
    const onPath = fakeCriu();
    expect(findCriu(explicit, { CRIU_BIN: fromEnv, PATH: dir })).toBe(explicit);
    expect(findCriu(undefined, { CRIU_BIN: fromEnv, PATH: dir })).toBe(fromEnv);
    expect(findCriu(undefined, { PATH: dir })).toBe(onPath);
  });

  it('names the fix when criu is missing', () => {
    const err = (() => {
      try {
        findCriu(undefined, { CRIU_BIN: join(dir, 'absent') });
      } catch (e) {
        return e;
      }
    })() as CriuError;
    expect(CriuError.is(err)).toBe(true);
    expect(err.code).toBe('CRIU_NOT_FOUND');
    expect(err.message).toMatch(/CRIU_BIN/);
  });
});

describe('assertSupportedVersion', () => {
  it('accepts 4.x and refuses an old criu with what to do', () => {
    expect(() =>
      assertSupportedVersion({ major: 4, minor: 2 }, '/usr/local/sbin/criu'),
    ).not.toThrow();
    expect(() => assertSupportedVersion({ major: 3, minor: 12 }, '/usr/sbin/criu')).toThrow(
      /needs 3\.15 or newer/,
    );
  });
});
