import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeWith, root } from '@cryopipe/testkit';
import { describe, expect, it } from 'vitest';
import { PATH_ENV, useTempDirs } from '../test/helpers.ts';
import { attach } from './attach.ts';
import { LauncherError, LauncherNotFoundError, PipelineSpecError, RunLostError } from './errors.ts';
import { LAUNCHER_ENV } from './launcher-path.ts';
import { spawnPipeline } from './spawn-pipeline.ts';

describe('spawnPipeline before anything starts', () => {
  const tempDir = useTempDirs();

  it('rejects a bad spec without creating the run directory', async () => {
    const runDir = join(tempDir(), 'run');
    const err = await spawnPipeline({ stages: [{ argv: [] }] }, { runDir }).catch(
      (e: unknown) => e,
    );
    expect(PipelineSpecError.is(err)).toBe(true);
    expect(existsSync(runDir)).toBe(false);
  });

  it('names the missing launcher and the override variable', async () => {
    const runDir = join(tempDir(), 'run');
    process.env[LAUNCHER_ENV] = '/nonexistent/cryopipe-launch';
    try {
      const err = await spawnPipeline({ stages: [{ argv: ['true'] }] }, { runDir }).catch(
        (e: unknown) => e,
      );
      expect(LauncherNotFoundError.is(err)).toBe(true);
      expect(String(err)).toMatch(/\/nonexistent\/cryopipe-launch.*CRYOPIPE_LAUNCHER/s);
      expect(existsSync(runDir)).toBe(false);
    } finally {
      delete process.env[LAUNCHER_ENV];
    }
  });

  it('refuses a run directory already used', async () => {
    const dir = tempDir();
    await spawnPipeline(
      { stages: [{ argv: ['true'] }], env: PATH_ENV },
      { runDir: dir, pidNamespace: false },
    ).then((h) => h.wait());
    const err = await spawnPipeline({ stages: [{ argv: ['true'] }] }, { runDir: dir }).catch(
      (e: unknown) => e,
    );
    expect(LauncherError.is(err)).toBe(true);
    expect(String(err)).toMatch(/not empty/);
  });
});

describeWith([root], 'spawnPipeline and attach', () => {
  const tempDir = useTempDirs();

  it('creates a private run directory and reports the launcher and root pids', async () => {
    const runDir = join(tempDir(), 'run');
    const handle = await spawnPipeline(
      { stages: [{ argv: ['sleep', '1000'] }], env: PATH_ENV },
      { runDir, pidNamespace: true },
    );
    try {
      expect(statSync(runDir).mode & 0o777).toBe(0o700);
      expect(statSync(join(runDir, 'spec')).mode & 0o777).toBe(0o600);
      expect(handle.id).toBe('run');
      expect(handle.launcherPid).toBeGreaterThan(0);
      expect(handle.rootPid).not.toBe(handle.launcherPid);
      const status = await handle.status();
      expect(status.launcherPid).toBe(handle.launcherPid);
      expect(status.stages[0]!.hostPid).toBe(handle.stages[0]!.pid);
    } finally {
      handle.kill();
      await handle.wait().catch(() => {});
    }
  });

  it('re-attaches to a running pipeline found through /proc, and reports the final statuses', async () => {
    const runDir = join(tempDir(), 'run');
    const handle = await spawnPipeline(
      { stages: [{ argv: ['sleep', '1000'] }, { argv: ['sleep', '999'] }], env: PATH_ENV },
      { runDir, pidNamespace: true },
    );
    const attached = await attach(runDir, { rootPid: 999_999_999 });
    expect(attached.rootPid).toBe(handle.rootPid);
    expect(attached.stages.map((s) => s.pid)).toEqual(handle.stages.map((s) => s.pid));
    expect(attached.launcherPid).toBeUndefined();
    attached.kill('SIGTERM');
    const err = await attached.wait().catch((e: unknown) => e);
    expect(String(err)).toMatch(/stage 1 \(sleep 999\) was killed by SIGTERM/);
    const again = await attach(runDir);
    expect(await again.wait().catch((e: unknown) => e)).toMatchObject({ exitCode: 143 });
  });

  it('reports a run lost when the dump root dies without a final status', async () => {
    const runDir = join(tempDir(), 'run');
    const handle = await spawnPipeline(
      { stages: [{ argv: ['sleep', '1000'] }], env: PATH_ENV },
      { runDir, pidNamespace: true },
    );
    handle.kill('SIGKILL');
    const err = await handle.wait().catch((e: unknown) => e);
    expect(RunLostError.is(err)).toBe(true);
    expect(String(err)).toMatch(/attach\(\)/);
  });

  it('writes per-stage stderr and the last stdout into the run directory by default', async () => {
    const runDir = join(tempDir(), 'run');
    const handle = await spawnPipeline(
      {
        stages: [{ argv: ['sh', '-c', 'echo out; echo err >&2'] }, { argv: ['cat'] }],
        env: PATH_ENV,
      },
      { runDir },
    );
    const result = await handle.wait();
    expect(result.command).toBe("sh -c 'echo out; echo err >&2' | cat");
    expect(readFileSync(join(runDir, 'stdout'), 'utf8')).toBe('out\n');
    expect(readFileSync(join(runDir, 'stage-1.log'), 'utf8')).toBe('err\n');
    expect(readFileSync(join(runDir, 'stage-2.log'), 'utf8')).toBe('');
  });
});
