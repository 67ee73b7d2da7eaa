import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { PATH_ENV, until, useTempDirs, wchan } from '../test/helpers.ts';
import { attach } from './attach.ts';
import { RunLostError } from './errors.ts';
import { childrenOf } from './proc.ts';
import { spawnPipeline } from './spawn-pipeline.ts';
import type { PipelineSpec } from './spec.ts';

const CRIU = process.env['CRIU_BIN'] ?? '/usr/local/sbin/criu';

function runCriu(args: string[], imagesDir: string, log: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(CRIU, [...args, '-D', imagesDir, '-o', log], (err) => {
      if (!err) return resolve();
      const lines = readFileSync(join(imagesDir, log), 'utf8').split('\n');
      reject(
        new Error(`criu ${args[0]} failed:\n${lines.filter((l) => /Error/.test(l)).join('\n')}`),
      );
    });
  });
}

/** generator → compressor → checksum; the checksum starts reading late so both pipes fill. */
function threeStages(out: string): PipelineSpec {
  return {
    stages: [
      { argv: ['seq', '1', '20000000'] },
      { argv: ['gzip', '-1', '-n'] },
      { argv: ['sh', '-c', 'sleep 2; exec sha256sum'] },
    ],
    env: PATH_ENV,
    stdout: { type: 'file', path: out, mode: 'truncate' },
  };
}

/** Every pid in the tree under `pid`, `pid` included. */
function treePids(pid: number): number[] {
  return [pid, ...childrenOf(pid).flatMap(treePids)];
}

for (const mode of ['pidns', 'plain'] as const) {
  describeWith([root, criu], `checkpoint and restore with real CRIU (${mode} mode)`, () => {
    const tempDir = useTempDirs();

    it('restores a three-stage pipeline with data in flight to the same output', async () => {
      const dir = tempDir();
      const reference = await spawnPipeline(threeStages(join(dir, 'reference.sha')), {
        runDir: join(dir, 'reference'),
        pidNamespace: mode === 'pidns',
      });
      await reference.wait();

      const out = join(dir, 'out.sha');
      const handle = await spawnPipeline(threeStages(out), {
        runDir: join(dir, 'run'),
        pidNamespace: mode === 'pidns',
      });
      const [generator, compressor] = handle.stages;
      // Kernel witness of data in flight: both writers blocked on a full pipe.
      await until(
        () => /pipe_write/.test(wchan(generator!.pid)) && /pipe_write/.test(wchan(compressor!.pid)),
      );
      const dumpedPids = treePids(handle.rootPid);
      const lost = handle.wait().catch((e: unknown) => e);

      const images = join(dir, 'images');
      mkdirSync(images, { mode: 0o700 });
      await runCriu(['dump', '-t', String(handle.rootPid)], images, 'dump.log');
      expect(RunLostError.is(await lost)).toBe(true);
      expect(readFileSync(join(images, 'pipes-data.img')).length).toBeGreaterThan(0);

      // Plain mode restores the same pids: wait until PID 1 has reaped the dumped tree.
      if (mode === 'plain')
        await until(() => dumpedPids.every((pid) => !existsSync(`/proc/${pid}`)), 50);
      const pidfile = join(dir, 'restored.pid');
      await runCriu(['restore', '-d', '--pidfile', pidfile], images, 'restore.log');
      const restoredRoot = Number(readFileSync(pidfile, 'utf8'));
      if (mode === 'pidns') expect(restoredRoot).not.toBe(handle.rootPid);
      else expect(restoredRoot).toBe(handle.rootPid);

      const attached = await attach(join(dir, 'run'), { rootPid: restoredRoot });
      expect(attached.rootPid).toBe(restoredRoot);
      expect(attached.stages.map((s) => s.nsPid)).toEqual(handle.stages.map((s) => s.nsPid));
      const result = await attached.wait();
      expect(result.stages.map((s) => s.exitCode)).toEqual([0, 0, 0]);
      const status = await attached.status();
      expect(status.state).toBe('exited');
      expect(status.rootPid).toBe(restoredRoot);

      const expected = readFileSync(join(dir, 'reference.sha'), 'utf8');
      expect(expected).toMatch(/^[0-9a-f]{64} {2}-\n$/);
      expect(readFileSync(out, 'utf8')).toBe(expected);
    }, 120_000);
  });
}
