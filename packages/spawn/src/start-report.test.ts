import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PATH_ENV, useTempDirs } from '../test/helpers.ts';
import { LAUNCHER_ENV, launcherPath } from './launcher-path.ts';
import { type RunStatus, readRunStatusSync } from './run-status.ts';
import { spawnPipeline } from './spawn-pipeline.ts';
import { resolvePipeline } from './spec.ts';
import { encodeSpec } from './spec-encoding.ts';

// The launcher reports the start on the stdout it was given; spawnPipeline reads that
// pipe instead of watching the run directory. Plain mode: no root needed.

describe('start report', () => {
  const tempDir = useTempDirs();

  it('comes after RUNDIR/status says the stages started, then the pipe closes', async () => {
    const dir = tempDir();
    const spec = resolvePipeline(
      { stages: [{ argv: ['sh', '-c', 'exit 7'] }, { argv: ['cat'] }], env: PATH_ENV },
      dir,
    );
    writeFileSync(join(dir, 'spec'), encodeSpec(spec, false));
    const child = spawn(launcherPath(), [dir], { stdio: ['ignore', 'pipe', 'ignore'], env: {} });
    let statusAtReport: RunStatus | undefined;
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (stdout === '') statusAtReport = readRunStatusSync(dir);
      stdout += chunk;
    });
    const ended = new Promise<void>((resolve) => child.stdout.once('end', resolve));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    await ended; // EOF: the launcher closed its copy of the pipe
    expect(stdout).toBe('started\n');
    expect(statusAtReport?.state).toMatch(/^(running|exited)$/);
    expect(statusAtReport?.stages.map((s) => s.pid > 0)).toEqual([true, true]);
    expect(code).toBe(7);
  });

  it('is optional: spawnPipeline falls back to watching the run directory when a launcher stays silent', async () => {
    const dir = tempDir();
    // A launcher whose stdout is /dev/null (as one that predates the report): EOF right away.
    const silent = join(dir, 'silent-launcher');
    writeFileSync(silent, `#!/bin/sh\nexec '${launcherPath()}' "$@" >/dev/null\n`);
    chmodSync(silent, 0o755);
    process.env[LAUNCHER_ENV] = silent;
    try {
      const handle = await spawnPipeline(
        { stages: [{ argv: ['sleep', '0.2'] }, { argv: ['cat'] }], env: PATH_ENV },
        { runDir: join(dir, 'run'), pidNamespace: false },
      );
      expect(handle.stages.every((s) => s.pid > 0)).toBe(true);
      const result = await handle.wait();
      expect(result.stages.map((s) => s.exitCode)).toEqual([0, 0]);
    } finally {
      delete process.env[LAUNCHER_ENV];
    }
  });

  it('lets spawnPipeline use an existing empty run directory and make it private', async () => {
    const runDir = join(tempDir(), 'made-by-the-caller');
    mkdirSync(runDir, { mode: 0o755 });
    chmodSync(runDir, 0o755);
    const handle = await spawnPipeline(
      { stages: [{ argv: ['true'] }], env: PATH_ENV },
      { runDir, pidNamespace: false },
    );
    await handle.wait();
    expect(statSync(runDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(runDir, 'spec')).mode & 0o777).toBe(0o600);
  });
});
