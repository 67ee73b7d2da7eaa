import { readFileSync, readlinkSync } from 'node:fs';
import { RUN_DIR_FD, type RunStatus, readRunStatus } from '@cryopipe/spawn';
import type { JobRecord, JobRef, JobStore } from './job-store.ts';

/** What a job looks like right now, combining job.json, the run status and /proc. */
export type JobState = 'running' | 'checkpointed' | 'exited' | 'failed' | 'lost';

export interface Liveness {
  state: JobState;
  alive: boolean;
  exitCode: number | undefined;
  status: RunStatus | undefined;
}

/**
 * Is `pid` the live dump root of job `id`? Pids are reused: after a job
 * stops, another process — even another job's launcher (a plain-mode restore
 * gets its old pids back) — can hold its recorded pid, and signalling or
 * checkpointing that would hit the wrong job. So the process must run the
 * cryopipe launcher, not be a zombie, and hold this job's run directory
 * (…/jobs/ID/run) open on RUN_DIR_FD. Its argument names a run directory
 * too, but a copy restored under another id keeps the original's argument;
 * launchers of older cryopipe versions (and keepers) have only the argument.
 */
export function isJobRoot(pid: number, id: string): boolean {
  if (!pid) return false;
  // `/ID/run`, not `jobs/ID/run`: jobs/ may be a symlink, and the launcher holds the real path.
  const ownRunDir = (path: string) => path.replace(/\/+$/, '').endsWith(`/${id}/run`);
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) Z /.test(stat.slice(stat.lastIndexOf(')')))) return false;
    if (!/cryopipe-launch/.test(readlinkSync(`/proc/${pid}/exe`))) return false;
    const held = runDirHeld(pid);
    if (held !== undefined) return ownRunDir(held);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.some(ownRunDir);
  } catch {
    return false;
  }
}

/** The run directory a launcher holds on RUN_DIR_FD, if that descriptor is one. */
function runDirHeld(pid: number): string | undefined {
  try {
    const target = readlinkSync(`/proc/${pid}/fd/${RUN_DIR_FD}`);
    return target.endsWith('/run') ? target : undefined;
  } catch {
    return undefined;
  }
}

export async function jobLiveness(store: JobStore, job: JobRecord): Promise<Liveness> {
  // Liveness first, status second: the launcher writes its final status before
  // it exits, so a job found dead always has its last word on disk already.
  const alive = isJobRoot(job.rootPid, job.id);
  // No status yet (the launcher is starting) or a torn read: treat as unknown.
  const status = await readRunStatus(store.runDir(job.id)).catch(() => undefined);
  if (alive) return { state: 'running', alive, exitCode: undefined, status };
  // Stopped by a checkpoint: whatever the status says of how its processes died
  // (an adopted job's keeper records the SIGKILL), the job is waiting for a restore.
  if (job.phase === 'checkpointed')
    return { state: 'checkpointed', alive, exitCode: undefined, status };
  if (status?.state === 'exited')
    return {
      state: status.exitCode === 0 ? 'exited' : 'failed',
      alive,
      exitCode: status.exitCode,
      status,
    };
  if (status?.state === 'failed')
    return { state: 'failed', alive, exitCode: status.exitCode, status };
  // Neither running nor finished: killed from outside, or the machine rebooted.
  return { state: 'lost', alive, exitCode: undefined, status };
}

/** Where a job stands right now: `running`, `checkpointed`, `exited`, `failed` or `lost`. */
export async function jobState(store: JobStore, ref: JobRef): Promise<Liveness> {
  return jobLiveness(store, store.resolve(ref));
}
