import { spawn } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { LauncherError } from './errors.ts';
import { createHandle, type PipelineHandle, pollRunDir } from './handle.ts';
import { launcherPath } from './launcher-path.ts';
import { type RunStatus, tryReadRunStatus } from './run-status.ts';
import type { PipelineSpec } from './spec.ts';
import { resolvePipeline } from './spec.ts';
import { encodeSpec, type PidNamespaceMode } from './spec-encoding.ts';

export interface SpawnOptions {
  /** Directory for this run (created 0700; must be empty or absent). */
  runDir: string;
  /**
   * Run the stages in a fresh PID namespace under a namespace init (the dump
   * root). `'auto'` (default): when permitted (root), else plain mode.
   * `true`: fail when not permitted.
   */
  pidNamespace?: PidNamespaceMode;
}

/**
 * Validates `spec`, writes it to RUNDIR/spec and starts the launcher detached
 * (its own session; the caller may exit). Resolves once RUNDIR/status says the
 * stages started. Rejects with PipelineSpecError before starting anything,
 * LauncherNotFoundError, or LauncherError.
 */
export async function spawnPipeline(
  spec: PipelineSpec,
  options: SpawnOptions,
): Promise<PipelineHandle> {
  const runDir = resolve(options.runDir);
  const resolved = resolvePipeline(spec, runDir);
  const launcher = launcherPath();
  await mkdir(runDir, { recursive: true, mode: 0o700 });
  await chmod(runDir, 0o700);
  const existing = await readdir(runDir);
  if (existing.length > 0)
    throw new LauncherError(
      runDir,
      `run directory is not empty (${existing.slice(0, 5).join(', ')})`,
      undefined,
      '',
    );
  await writeFile(join(runDir, 'spec.tmp'), encodeSpec(resolved, options.pidNamespace ?? 'auto'), {
    mode: 0o600,
  });
  await rename(join(runDir, 'spec.tmp'), join(runDir, 'spec'));

  const child = spawn(launcher, [runDir], { detached: true, stdio: 'ignore', env: {}, cwd: '/' });
  const launcherExit = new Promise<number | null>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit(signal ? null : code));
    child.once('error', () => resolveExit(null));
  });
  child.unref();
  let exited: { code: number | null } | undefined;
  void launcherExit.then((code) => {
    exited = { code };
  });

  const status = await pollRunDir<RunStatus>(
    runDir,
    async () => {
      const current = await tryReadRunStatus(runDir);
      if (current) return current;
      if (exited) {
        const again = await tryReadRunStatus(runDir);
        if (again) return again;
        const log = await readFile(join(runDir, 'launcher.log'), 'utf8').catch(() => '');
        throw new LauncherError(
          runDir,
          'exited before starting the stages',
          exited.code ?? undefined,
          log,
        );
      }
      return undefined;
    },
    (wake) => {
      void launcherExit.then(wake);
      return () => {};
    },
  );
  if (status.state === 'failed') {
    const log = await readFile(join(runDir, 'launcher.log'), 'utf8').catch(() => '');
    throw new LauncherError(runDir, status.error ?? 'failed', status.exitCode, log);
  }
  return createHandle({
    runDir,
    id: basename(runDir),
    rootPid: status.rootPid,
    launcherPid: child.pid,
    status,
    launcherExit,
  });
}
