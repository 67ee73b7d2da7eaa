import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import {
  environ,
  fdTable,
  PATH_ENV,
  sessionAndTty,
  statusField,
  until,
  useTempDirs,
} from '../test/helpers.ts';
import { PipelineError } from './errors.ts';
import { RUN_DIR_FD } from './facts.ts';
import type { PipelineHandle } from './handle.ts';
import { spawnPipeline } from './spawn-pipeline.ts';

// The kernel is the witness: every assertion reads /proc of the live stages.

const EMPTY_MASK = '0000000000000000';

async function stopAll(handle: PipelineHandle): Promise<void> {
  handle.kill('SIGTERM');
  await handle.wait().catch(() => {});
}

for (const mode of ['pidns', 'plain'] as const) {
  const pidNamespace = mode === 'pidns';
  describeWith([root], `launcher in ${mode} mode`, () => {
    const tempDir = useTempDirs();

    it('gives each stage exactly its declared descriptors, joined by real pipes', async () => {
      const dir = tempDir();
      const log = join(dir, 'extra.log');
      const handle = await spawnPipeline(
        {
          stages: [
            { argv: ['sleep', '1000'], fds: { 4: { type: 'file', path: log, mode: 'append' } } },
            { argv: ['sleep', '1000'] },
            { argv: ['sleep', '1000'], fds: { 2: { type: 'null' } } },
          ],
          edges: [{ from: { stage: 0, fd: 7 }, to: { stage: 2, fd: 9 } }],
          env: PATH_ENV,
        },
        { runDir: join(dir, 'run'), pidNamespace },
      );
      try {
        expect(handle.mode).toBe(mode);
        const [a, b, c] = handle.stages.map((s) => fdTable(s.pid));
        expect([...a!.keys()]).toEqual([0, 1, 2, 4, 7]);
        expect([...b!.keys()]).toEqual([0, 1, 2]);
        expect([...c!.keys()]).toEqual([0, 1, 2, 9]);
        expect(a!.get(0)).toBe('/dev/null');
        expect(a!.get(2)).toBe(join(dir, 'run', 'stage-1.log'));
        expect(a!.get(4)).toBe(log);
        expect(c!.get(1)).toBe(join(dir, 'run', 'stdout'));
        expect(c!.get(2)).toBe('/dev/null');
        // Two ends of one pipe share an inode; different pipes do not.
        expect(a!.get(1)).toMatch(/^pipe:\[\d+\]$/);
        expect(a!.get(1)).toBe(b!.get(0));
        expect(b!.get(1)).toBe(c!.get(0));
        expect(a!.get(7)).toBe(c!.get(9));
        expect(new Set([a!.get(1), b!.get(1), a!.get(7)]).size).toBe(3);
        // The dump root holds /dev/null, its log and its run directory, nothing else.
        const rootFds = fdTable(handle.rootPid);
        expect([...rootFds]).toEqual([
          [0, '/dev/null'],
          [1, join(dir, 'run', 'launcher.log')],
          [2, join(dir, 'run', 'launcher.log')],
          [RUN_DIR_FD, join(dir, 'run')],
        ]);
      } finally {
        await stopAll(handle);
      }
    });

    it('puts the stages in the dump root session, without a terminal and with clean signals', async () => {
      const dir = tempDir();
      const handle = await spawnPipeline(
        { stages: [{ argv: ['sleep', '1000'] }, { argv: ['sleep', '1000'] }], env: PATH_ENV },
        { runDir: join(dir, 'run'), pidNamespace },
      );
      try {
        const rootSession = sessionAndTty(handle.rootPid);
        expect(rootSession).toEqual({ session: handle.rootPid, ttyNr: 0 });
        if (mode === 'pidns') expect(statusField(handle.rootPid, 'NSpid')).toMatch(/\s1$/);
        for (const stage of handle.stages) {
          expect(sessionAndTty(stage.pid)).toEqual({ session: handle.rootPid, ttyNr: 0 });
          expect(statusField(stage.pid, 'SigBlk')).toBe(EMPTY_MASK);
          expect(statusField(stage.pid, 'SigIgn')).toBe(EMPTY_MASK);
          expect(statusField(stage.pid, 'PPid')).toBe(String(handle.rootPid));
        }
        if (mode === 'pidns') expect(handle.stages.map((s) => s.nsPid)).toEqual([2, 3]);
      } finally {
        await stopAll(handle);
      }
    });

    it('sets the environment, cwd and umask exactly as given', async () => {
      const dir = tempDir();
      const env = { ...PATH_ENV, ONLY: 'this', 'WITH SPACE': 'a=b\nc' };
      const handle = await spawnPipeline(
        {
          stages: [
            { argv: ['sleep', '1000'] },
            { argv: ['sh', '-c', 'umask; pwd'], cwd: dir, umask: 0o027 },
          ],
          linear: false,
          env,
        },
        { runDir: join(dir, 'run'), pidNamespace },
      );
      try {
        const pid = handle.stages[0]!.pid;
        expect(environ(pid).sort()).toEqual(
          Object.entries(env)
            .map(([k, v]) => `${k}=${v}`)
            .sort(),
        );
        await until(() => readFileSync(join(dir, 'run', 'stdout'), 'utf8').split('\n').length > 2);
        expect(readFileSync(join(dir, 'run', 'stdout'), 'utf8')).toBe(`0027\n${dir}\n`);
      } finally {
        await stopAll(handle);
      }
    });

    it('opens files for read, append and truncate', async () => {
      const dir = tempDir();
      writeFileSync(join(dir, 'in'), 'input\n');
      writeFileSync(join(dir, 'appended'), 'old\n');
      writeFileSync(join(dir, 'truncated'), 'old content\n');
      const handle = await spawnPipeline(
        {
          stages: [
            { argv: ['cat'], fds: { 0: { type: 'file', path: join(dir, 'in'), mode: 'read' } } },
            { argv: ['tee', join(dir, 'truncated')] },
          ],
          stdout: { type: 'file', path: join(dir, 'appended'), mode: 'append' },
          env: PATH_ENV,
        },
        { runDir: join(dir, 'run'), pidNamespace },
      );
      const result = await handle.wait();
      expect(result.exitCode).toBe(0);
      expect(readFileSync(join(dir, 'appended'), 'utf8')).toBe('old\ninput\n');
      expect(readFileSync(join(dir, 'truncated'), 'utf8')).toBe('input\n');
    });

    it('looks the command up in the spec env PATH, not the caller PATH', async () => {
      const dir = tempDir();
      writeFileSync(join(dir, 'hello-cryopipe'), '#!/bin/sh\necho from-path\n');
      chmodSync(join(dir, 'hello-cryopipe'), 0o755);
      const handle = await spawnPipeline(
        { stages: [{ argv: ['hello-cryopipe'] }], env: { PATH: `/nonexistent:${dir}` } },
        { runDir: join(dir, 'run'), pidNamespace },
      );
      await handle.wait();
      expect(readFileSync(join(dir, 'run', 'stdout'), 'utf8')).toBe('from-path\n');
    });

    it('gives 127 for a missing command and an error naming the stage', async () => {
      const dir = tempDir();
      const handle = await spawnPipeline(
        {
          stages: [
            { argv: ['true'] },
            { argv: ['no-such-command-cryopipe', '-x'] },
            { argv: ['cat'] },
          ],
          env: PATH_ENV,
        },
        { runDir: join(dir, 'run'), pidNamespace },
      );
      const err = await handle.wait().catch((e: unknown) => e);
      expect(PipelineError.is(err)).toBe(true);
      const failure = err as PipelineError;
      expect(failure.exitCode).toBe(127);
      expect(failure.failedStage.index).toBe(1);
      expect(failure.failedStage.execError).toEqual({ errno: 2, code: 'ENOENT', phase: 'exec' });
      expect(failure.message).toContain('stage 1 (no-such-command-cryopipe -x)');
      expect(failure.stages.map((s) => s.exitCode)).toEqual([0, 127, 0]);
      expect(failure.command).toBe('true | no-such-command-cryopipe -x | cat');
    });

    it('gives 126 for a file that is not executable', async () => {
      const dir = tempDir();
      writeFileSync(join(dir, 'not-exec'), 'echo no\n');
      const handle = await spawnPipeline(
        { stages: [{ argv: [join(dir, 'not-exec')] }], env: PATH_ENV },
        { runDir: join(dir, 'run'), pidNamespace },
      );
      const err = (await handle.wait().catch((e: unknown) => e)) as PipelineError;
      expect(err.exitCode).toBe(126);
      expect(err.failedStage.execError?.code).toBe('EACCES');
    });

    it('exits with the rightmost non-zero status (pipefail)', async () => {
      const dir = tempDir();
      const handle = await spawnPipeline(
        {
          stages: [
            { argv: ['sh', '-c', 'exit 3'] },
            { argv: ['sh', '-c', 'exit 5'] },
            { argv: ['true'] },
          ],
          env: PATH_ENV,
        },
        { runDir: join(dir, 'run'), pidNamespace },
      );
      const err = (await handle.wait().catch((e: unknown) => e)) as PipelineError;
      expect(err.exitCode).toBe(5);
      expect(err.failedStage.index).toBe(1);
      const status = await handle.status();
      expect(status.state).toBe('exited');
      expect(status.exitCode).toBe(5);
    });

    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const) {
      it(`forwards ${signal} to every stage`, async () => {
        const dir = tempDir();
        const handle = await spawnPipeline(
          { stages: [{ argv: ['sleep', '1000'] }, { argv: ['sleep', '1000'] }], env: PATH_ENV },
          { runDir: join(dir, 'run'), pidNamespace },
        );
        expect(handle.kill(signal)).toBe(true);
        const err = (await handle.wait().catch((e: unknown) => e)) as PipelineError;
        expect(PipelineError.is(err)).toBe(true);
        expect(err.stages.map((s) => s.signal)).toEqual([signal, signal]);
        expect(err.message).toContain(`was killed by ${signal}`);
      });
    }

    it('forwards a signal sent to the outer launcher process', async () => {
      const dir = tempDir();
      const handle = await spawnPipeline(
        { stages: [{ argv: ['sleep', '1000'] }], env: PATH_ENV },
        { runDir: join(dir, 'run'), pidNamespace },
      );
      process.kill(handle.launcherPid!, 'SIGTERM');
      const err = (await handle.wait().catch((e: unknown) => e)) as PipelineError;
      expect(err.exitCode).toBe(128 + 15);
      expect(err.failedStage.signal).toBe('SIGTERM');
    });
  });
}
