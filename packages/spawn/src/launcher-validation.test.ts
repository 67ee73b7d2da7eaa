import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempDirs } from '../test/helpers.ts';
import { SPEC_HEADER } from './facts.ts';
import { launcherPath, launcherVersion } from './launcher-path.ts';
import { readRunStatus } from './run-status.ts';

// The launcher validates the whole spec itself too (another tool may write one).

/** Runs the launcher to its end: exit code and what it printed on stdout (the start report). */
function runLauncher(runDir: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(launcherPath(), [runDir], (err, stdout) => {
      const code = err ? ((err as { code?: unknown }).code as number) : 0;
      resolve({ code: typeof code === 'number' ? code : -1, stdout });
    });
  });
}

const stage = (...argv: string[]): string[] => ['stage', ...argv.flatMap((a) => ['arg', a])];

describe('launcher spec validation', () => {
  const tempDir = useTempDirs();

  it('answers the --version handshake', async () => {
    expect(await launcherVersion()).toEqual({ version: '0.1.0', spec: SPEC_HEADER });
  });

  const cases: [string, string[], RegExp][] = [
    ['another version', ['cryopipe-spec/9', 'end'], /spec is not cryopipe-spec\/1/],
    ['no stages', [SPEC_HEADER, 'pipes', '0', 'end'], /no stages/],
    [
      'a pipe with two readers',
      [
        SPEC_HEADER,
        'pipes',
        '1',
        ...stage('a'),
        'fd',
        '0',
        'pipe',
        '0',
        'r',
        ...stage('b'),
        'fd',
        '0',
        'pipe',
        '0',
        'r',
        'end',
      ],
      /pipe 0 has 2 readers and 0 writers/,
    ],
    [
      'a descriptor declared twice',
      [SPEC_HEADER, ...stage('a'), 'fd', '3', 'null', 'r', 'fd', '3', 'null', 'w', 'end'],
      /stage 0 declares fd 3 twice/,
    ],
    [
      'a relative file path',
      [SPEC_HEADER, ...stage('a'), 'fd', '1', 'file', 't', 'out', 'end'],
      /not absolute/,
    ],
    ['a truncated file', [SPEC_HEADER, ...stage('a')], /spec ends early/],
    [
      'a huge fd number',
      [SPEC_HEADER, ...stage('a'), 'fd', '5000', 'null', 'r', 'end'],
      /bad fd number/,
    ],
  ];
  for (const [what, tokens, message] of cases) {
    it(`refuses ${what} before starting anything`, async () => {
      const dir = tempDir();
      const body = what === 'a truncated file' ? tokens.join('\0') : `${tokens.join('\0')}\0`;
      writeFileSync(join(dir, 'spec'), body);
      expect(await runLauncher(dir)).toEqual({ code: 125, stdout: '' }); // no start reported
      const status = await readRunStatus(dir);
      expect(status.state).toBe('failed');
      expect(status.error).toMatch(message);
      expect(status.stages.every((s) => s.pid === 0 && s.startedAt === undefined)).toBe(true);
      expect(readFileSync(join(dir, 'launcher.log'), 'utf8')).toMatch(message);
    });
  }

  it('refuses a relative run directory', async () => {
    expect((await runLauncher('relative/dir')).code).toBe(125);
  });
});
