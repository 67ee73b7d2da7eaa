import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorLines, isHarmlessNoise, meaningfulErrmsg } from './log.ts';

const fixture = readFileSync(new URL('../test/fixtures/dump.log', import.meta.url), 'utf8');

describe('criu log filtering', () => {
  it('keeps Error lines and drops the harmless noise', () => {
    expect(errorLines(fixture)).toEqual([
      'Error (criu/tty.c:410): tty: Found slave peer index 0 without correspond master peer',
      '(00.104412) Error (criu/cr-dump.c:1975): Dumping FAILED.',
    ]);
  });

  it('recognises the rlimit and plugin-hook noise', () => {
    expect(
      isHarmlessNoise("rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted"),
    ).toBe(true);
    expect(isHarmlessNoise('tty: Found dangling tty')).toBe(false);
  });

  it('treats a cr_errmsg that is only noise as no message', () => {
    expect(
      meaningfulErrmsg(
        "Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted",
      ),
    ).toBeUndefined();
    expect(meaningfulErrmsg('Error (criu/tty.c:410): tty: bad')).toBe(
      'Error (criu/tty.c:410): tty: bad',
    );
    expect(meaningfulErrmsg(undefined)).toBeUndefined();
  });
});
