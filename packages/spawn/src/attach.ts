import { basename, resolve } from 'node:path';
import { createHandle, type PipelineHandle } from './handle.ts';
import { findRootPid, isLauncherFor } from './proc.ts';
import { readRunStatus } from './run-status.ts';

/** Options of `attach()`. */
export interface AttachOptions {
  /**
   * Host pid of the dump root, e.g. from `criu restore --pidfile`. Needed
   * after a restore in PID-namespace mode (fresh host pids); when absent or
   * not a live launcher for this run, /proc is scanned for it.
   */
  rootPid?: number;
}

/**
 * Re-attaches to a run when this process is not (or no longer) its parent,
 * e.g. after a CRIU restore: the run directory is the channel. The handle's
 * wait() polls /proc and RUNDIR/status.
 */
export async function attach(runDir: string, options: AttachOptions = {}): Promise<PipelineHandle> {
  const dir = resolve(runDir);
  const status = await readRunStatus(dir);
  let rootPid = options.rootPid ?? status.rootPid;
  if (status.state === 'running' && !isLauncherFor(rootPid, dir))
    rootPid = findRootPid(dir) ?? rootPid;
  const fresh = await readRunStatus(dir);
  return createHandle({
    runDir: dir,
    id: basename(dir),
    rootPid,
    launcherPid: undefined,
    status: fresh,
  });
}
