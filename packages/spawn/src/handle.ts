import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LauncherError, RunLostError } from './errors.ts';
import type { LauncherProcess } from './launcher-process.ts';
import { hostPidsOfChildren, isLauncherFor } from './proc.ts';
import type { PipelineResult } from './result.ts';
import { type RunStatus, readRunStatus, readRunStatusSync } from './run-status.ts';
import { settle } from './settle.ts';

/** A stage of a started pipeline. */
export interface StageHandle {
  /** The stage's 0-based position in the pipeline. */
  index: number;
  /** The stage's argv as spawned. */
  argv: readonly string[];
  /** Host pid (what `ps` shows); 0 if the stage had already exited when this was read. */
  pid: number;
  /** Pid inside the pipeline's PID namespace (equals pid in plain mode). */
  nsPid: number;
}

/** A running (or finished) pipeline, from spawnPipeline() or attach(). */
export interface PipelineHandle {
  /** Name of the run: the run directory's basename. */
  readonly id: string;
  /** The run directory: spec, status file, stage logs. */
  readonly runDir: string;
  /** Host pid of the dump root: pass it to `criu dump -t`. */
  readonly rootPid: number;
  /** Host pid of the launcher process started by spawnPipeline (undefined after a restore). */
  readonly launcherPid: number | undefined;
  /** 'pidns': the stages run in a fresh PID namespace; 'plain': in the caller's. */
  readonly mode: 'pidns' | 'plain';
  /** The stages, in pipeline order. */
  readonly stages: readonly StageHandle[];
  /** Resolves with the result, or rejects with PipelineError / RunLostError / LauncherError. */
  wait(): Promise<PipelineResult>;
  /** Sends `signal` (default SIGTERM) to the dump root, which forwards it to every live stage. */
  kill(signal?: NodeJS.Signals | number): boolean;
  /** The current RUNDIR/status. */
  status(): Promise<RunStatus>;
}

const POLL_MS = 50;

/**
 * Calls `check` whenever RUNDIR changes (fs.watch), whenever `extraWake`
 * wakes it, and at least every POLL_MS, until it returns a value other than
 * undefined. For a process that is not the launcher's parent (attach), or
 * once the launcher has exited.
 */
export function pollRunDir<T>(
  runDir: string,
  check: () => Promise<T | undefined>,
  extraWake?: (wake: () => void) => void,
): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    let watcher: FSWatcher | undefined;
    let timer: NodeJS.Timeout | undefined;
    let running = false;
    let again = false;
    let done = false;
    const finish = (fn: () => void): void => {
      done = true;
      watcher?.close();
      clearInterval(timer);
      fn();
    };
    const tick = (): void => {
      if (done) return;
      if (running) {
        again = true;
        return;
      }
      running = true;
      check().then(
        (value) => {
          running = false;
          if (value !== undefined) finish(() => resolvePromise(value));
          else if (again) {
            again = false;
            tick();
          }
        },
        (err: unknown) => {
          running = false;
          finish(() => reject(err));
        },
      );
    };
    try {
      watcher = watch(runDir, { persistent: false }, tick);
      watcher.on('error', () => {});
    } catch {}
    timer = setInterval(tick, POLL_MS);
    extraWake?.(tick);
    tick();
  });
}

export interface HandleInit {
  runDir: string;
  id: string;
  rootPid: number;
  launcherPid: number | undefined;
  status: RunStatus;
  /** When this process is the launcher's parent (spawnPipeline, not attach); its status is fresh. */
  launcher?: LauncherProcess;
}

function stagesFrom(status: RunStatus, rootPid: number, fresh: boolean): StageHandle[] {
  // A status the launcher just wrote has every host pid; an older one (a restore) needs /proc.
  const known = fresh && status.stages.every((s) => s.hostPid > 0);
  const live = known ? new Map<number, number>() : hostPidsOfChildren(rootPid);
  return status.stages.map((s) => ({
    index: s.index,
    argv: s.argv,
    pid: live.get(s.pid) ?? (status.mode === 'plain' ? s.pid : s.hostPid),
    nsPid: s.pid,
  }));
}

/**
 * The launcher's parent learns of the end from its exit (the final status is
 * written just before), with no watching while the stages run. Polling is
 * the fallback: for attach(), and when the launcher exited but the dump root
 * still runs (only the outer process of a PID-namespace run was killed).
 */
async function waitForEnd(
  launcher: LauncherProcess | undefined,
  runDir: string,
  check: () => Promise<PipelineResult | undefined>,
): Promise<PipelineResult> {
  if (launcher) {
    launcher.keepAlive();
    await launcher.exit;
    const result = await check();
    if (result !== undefined) return result;
  }
  return pollRunDir(runDir, check);
}

export function createHandle(init: HandleInit): PipelineHandle {
  const { runDir, rootPid } = init;
  let launcherExited = false;
  void init.launcher?.exit.then(() => {
    launcherExited = true;
  });
  const check = async (): Promise<PipelineResult | undefined> => {
    const status = readRunStatusSync(runDir);
    if (status.state === 'exited') return settle(runDir, status);
    if (status.state === 'failed') {
      const log = await readFile(join(runDir, 'launcher.log'), 'utf8').catch(() => '');
      throw new LauncherError(runDir, status.error ?? 'failed', status.exitCode, log);
    }
    if (isLauncherFor(rootPid, runDir) && !(launcherExited && rootPid === init.launcherPid))
      return undefined;
    // Root gone: the status may have been replaced just before it exited.
    const last = readRunStatusSync(runDir);
    if (last.state !== 'running') return check();
    throw new RunLostError(runDir, rootPid);
  };
  let waiting: Promise<PipelineResult> | undefined;
  return {
    id: init.id,
    runDir,
    rootPid,
    launcherPid: init.launcherPid,
    mode: init.status.mode,
    stages: stagesFrom(init.status, rootPid, init.launcher !== undefined),
    wait() {
      waiting ??= waitForEnd(init.launcher, runDir, check);
      return waiting;
    },
    kill(signal: NodeJS.Signals | number = 'SIGTERM') {
      if (!isLauncherFor(rootPid, runDir)) return false;
      try {
        process.kill(rootPid, signal);
        return true;
      } catch {
        return false;
      }
    },
    status: () => readRunStatus(runDir),
  };
}
