import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { LauncherError } from './errors.ts';
import { createHandle, type PipelineHandle, pollRunDir } from './handle.ts';
import { launcherPath } from './launcher-path.ts';
import { type LauncherProcess, startLauncher } from './launcher-process.ts';
import { createRunDir } from './run-dir.ts';
import { type RunStatus, readRunStatusSync, tryReadRunStatusSync } from './run-status.ts';
import type { PipelineSpec } from './spec.ts';
import { resolvePipeline } from './spec.ts';
import { encodeSpec, type PidNamespaceMode } from './spec-encoding.ts';

/** Options of `spawnPipeline()`. */
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

function launcherLog(runDir: string): string {
  try {
    return readFileSync(join(runDir, 'launcher.log'), 'utf8');
  } catch {
    return '';
  }
}

/**
 * The launcher closed its report pipe without reporting a start: it usually
 * wrote a `failed` status first. Without one (it crashed, or it is a
 * launcher that predates the report), wait for a status or for its exit.
 */
function statusWithoutReport(runDir: string, launcher: LauncherProcess): Promise<RunStatus> {
  let exited: { code: number | null } | undefined;
  void launcher.exit.then((code) => {
    exited = { code };
  });
  return pollRunDir<RunStatus>(
    runDir,
    async () => {
      const status = tryReadRunStatusSync(runDir);
      if (status || !exited) return status;
      throw new LauncherError(
        runDir,
        'exited before starting the stages',
        exited.code ?? undefined,
        launcherLog(runDir),
      );
    },
    (wake) => {
      void launcher.exit.then(wake);
    },
  );
}

/**
 * Validates `spec`, writes it to RUNDIR/spec and starts the launcher detached
 * (its own session; the caller may exit). Resolves once the stages started
 * (RUNDIR/status says so). Rejects with PipelineSpecError before starting
 * anything, LauncherNotFoundError, or LauncherError.
 */
export async function spawnPipeline(
  spec: PipelineSpec,
  options: SpawnOptions,
): Promise<PipelineHandle> {
  const runDir = resolve(options.runDir);
  const resolved = resolvePipeline(spec, runDir);
  const path = launcherPath();
  createRunDir(runDir, encodeSpec(resolved, options.pidNamespace ?? 'auto'));

  const launcher = startLauncher(path, runDir);
  const status = (await launcher.started)
    ? readRunStatusSync(runDir)
    : await statusWithoutReport(runDir, launcher);
  if (status.state === 'failed')
    throw new LauncherError(runDir, status.error ?? 'failed', status.exitCode, launcherLog(runDir));
  return createHandle({
    runDir,
    id: basename(runDir),
    rootPid: status.rootPid,
    launcherPid: launcher.pid,
    status,
    launcher,
  });
}
