import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { PATH_ENV, useTempDirs } from '../test/helpers.ts';
import { isLauncherFor } from './proc.ts';
import { stageIndexOfLogName, stageLogName } from './run-dir.ts';
import { spawnPipeline } from './spawn-pipeline.ts';

it('names stage logs from 1 and reads the names back to 0-based indexes', () => {
  expect(stageLogName(0)).toBe('stage-1.log');
  expect(stageLogName(11)).toBe('stage-12.log');
  expect(stageIndexOfLogName('stage-1.log')).toBe(0);
  expect(stageIndexOfLogName('stage-12.log')).toBe(11);
  for (const other of ['stage-0.log', 'stage-01.log', 'stage-1.stderr', 'stdout', 'stage-.log'])
    expect(stageIndexOfLogName(other)).toBeUndefined();
});

it('refuses pids that cannot be a launcher', () => {
  for (const pid of [0, -1, Number.NaN, 1.5, process.pid])
    expect(isLauncherFor(pid, '/')).toBe(false);
});

for (const mode of ['pidns', 'plain'] as const) {
  describeWith([root], `isLauncherFor in ${mode} mode`, () => {
    const tempDir = useTempDirs();

    it('knows the launcher and the dump root of a run by their run directory, and nothing else', async () => {
      const dir = tempDir();
      const runDir = join(dir, 'run');
      symlinkSync(dir, join(dir, 'link'));
      const handle = await spawnPipeline(
        { stages: [{ argv: ['sleep', '1000'] }], env: PATH_ENV },
        { runDir, pidNamespace: mode === 'pidns' },
      );
      try {
        expect(isLauncherFor(handle.rootPid, runDir)).toBe(true);
        expect(isLauncherFor(handle.launcherPid!, runDir)).toBe(true);
        expect(isLauncherFor(handle.rootPid, `${runDir}/`)).toBe(true);
        expect(isLauncherFor(handle.rootPid, join(dir, 'link', 'run'))).toBe(true); // same directory
        expect(isLauncherFor(handle.rootPid, dir)).toBe(false);
        expect(isLauncherFor(handle.rootPid, join(dir, 'other'))).toBe(false);
        expect(isLauncherFor(handle.stages[0]!.pid, runDir)).toBe(false); // a stage is not
      } finally {
        handle.kill('SIGTERM');
        await handle.wait().catch(() => {});
      }
      expect(isLauncherFor(handle.rootPid, runDir)).toBe(false); // gone
    });
  });
}
