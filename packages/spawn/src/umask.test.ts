import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PATH_ENV, statusField, until, useTempDirs } from '../test/helpers.ts';
import type { PipelineHandle } from './handle.ts';
import { currentUmask } from './proc.ts';
import { spawnPipeline } from './spawn-pipeline.ts';
import type { PipelineSpec } from './spec.ts';

// Issue 15: stages get the caller's umask, as a shell's children do. The
// kernel is the witness: /proc/PID/status of a live stage, and the mode of a
// file a stage creates.

const tempDir = useTempDirs();
let saved: number;
beforeEach(() => {
  saved = process.umask(0o027); // unusual on purpose: 022 would pass by luck
});
afterEach(() => {
  process.umask(saved);
});

/** A stage that stays (for /proc) and a stage that creates `file` with touch (mode 0666 & ~umask). */
async function run(file: string, umask?: number): Promise<PipelineHandle> {
  const spec: PipelineSpec = {
    stages: [{ argv: ['sleep', '1000'] }, { argv: ['touch', file] }],
    linear: false,
    env: PATH_ENV,
    ...(umask === undefined ? {} : { umask }),
  };
  const handle = await spawnPipeline(spec, { runDir: join(file, '..', 'run') });
  await until(() => statSync(file, { throwIfNoEntry: false }) !== undefined);
  return handle;
}

async function stop(handle: PipelineHandle): Promise<void> {
  handle.kill('SIGTERM');
  await handle.wait().catch(() => {});
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe('umask of the stages', () => {
  it('reads the caller umask without changing it', () => {
    expect(currentUmask()).toBe(0o027);
    expect(currentUmask()).toBe(0o027);
  });

  it('is the calling process umask by default', async () => {
    const file = join(tempDir(), 'made');
    const handle = await run(file);
    try {
      expect(statusField(handle.stages[0]!.pid, 'Umask')).toBe('0027');
      expect(mode(file)).toBe(0o640);
    } finally {
      await stop(handle);
    }
  });

  it('is the spec umask when given: 077 makes files 0600', async () => {
    const file = join(tempDir(), 'made');
    const handle = await run(file, 0o077);
    try {
      expect(statusField(handle.stages[0]!.pid, 'Umask')).toBe('0077');
      expect(mode(file)).toBe(0o600);
    } finally {
      await stop(handle);
    }
  });

  // The stage's own stderr file (stage-1.log) follows the stage's umask, as
  // `2> file` does in a shell; the directory around it stays 0700.
  it("leaves the run directory and the launcher's files private even with umask 0", async () => {
    const dir = tempDir();
    const file = join(dir, 'made');
    const handle = await run(file, 0);
    try {
      expect(statusField(handle.stages[0]!.pid, 'Umask')).toBe('0000');
      expect(mode(file)).toBe(0o666);
      expect(mode(join(dir, 'run'))).toBe(0o700);
      for (const name of ['spec', 'status', 'launcher.log'])
        expect([name, mode(join(dir, 'run', name))]).toEqual([name, 0o600]);
    } finally {
      await stop(handle);
    }
  });
});
