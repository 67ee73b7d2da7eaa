import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempDirs } from '../test/helpers.ts';
import { RunStatusError } from './errors.ts';
import { parseRunStatus, readRunStatus, signalName } from './run-status.ts';

const fixture = readFileSync(
  new URL('../test/fixtures/status-exited.json', import.meta.url),
  'utf8',
);

describe('parseRunStatus', () => {
  it('parses a final status with a signal and an exec failure', () => {
    const status = parseRunStatus(fixture);
    expect(status).toMatchObject({ state: 'exited', mode: 'pidns', rootPid: 4242, exitCode: 143 });
    expect(status.stages[0]).toMatchObject({
      pid: 2,
      hostPid: 4243,
      signal: 'SIGTERM',
      exitCode: undefined,
    });
    expect(status.stages[1]).toMatchObject({
      argv: ['no-such', 'a "b"\n'],
      exitCode: 127,
      signal: undefined,
      execError: { errno: 2, code: 'ENOENT', phase: 'exec' },
    });
  });

  it('refuses another version and unknown states', () => {
    expect(() => parseRunStatus('{"version":2}')).toThrow(/unsupported status version 2/);
    expect(() => parseRunStatus('{"version":1,"state":"odd"}')).toThrow(/unknown state odd/);
  });

  it('names signals', () => {
    expect(signalName(9)).toBe('SIGKILL');
    expect(signalName(99)).toBe('SIG99');
  });
});

describe('readRunStatus', () => {
  const tempDir = useTempDirs();

  it('says when a directory is not a run directory, or its status is malformed', async () => {
    const dir = tempDir();
    const missing = await readRunStatus(dir).catch((e: unknown) => e);
    expect(RunStatusError.is(missing)).toBe(true);
    expect(String(missing)).toMatch(/no status file/);
    writeFileSync(join(dir, 'status'), '{');
    expect(String(await readRunStatus(dir).catch((e: unknown) => e))).toMatch(
      /malformed status file/,
    );
  });
});
