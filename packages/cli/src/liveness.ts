import { readFileSync, readlinkSync } from 'node:fs';
import { type RunStatus, readRunStatus } from '@cryopipe/spawn';
import type { JobRecord, JobStore } from './job-store.ts';

/** What a job looks like right now, combining job.json, the run status and /proc. */
export type JobState = 'running' | 'checkpointed' | 'exited' | 'failed' | 'lost';

export interface Liveness {
  state: JobState;
  alive: boolean;
  exitCode: number | undefined;
  status: RunStatus | undefined;
}

/**
 * Is `pid` the job's dump root, alive? A pid can be reused after the job is
 * gone, so the process must also run the cryopipe launcher and not be a zombie.
 */
export function isJobRoot(pid: number): boolean {
  if (!pid) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) Z /.test(stat.slice(stat.lastIndexOf(')')))) return false;
    return /cryopipe-launch/.test(readlinkSync(`/proc/${pid}/exe`));
  } catch {
    return false;
  }
}

export async function jobLiveness(store: JobStore, job: JobRecord): Promise<Liveness> {
  // No status yet (the launcher is starting) or a torn read: treat as unknown.
  const status = await readRunStatus(store.runDir(job.id)).catch(() => undefined);
  const alive = isJobRoot(job.rootPid);
  if (alive) return { state: 'running', alive, exitCode: undefined, status };
  if (status?.state === 'exited')
    return {
      state: status.exitCode === 0 ? 'exited' : 'failed',
      alive,
      exitCode: status.exitCode,
      status,
    };
  if (status?.state === 'failed')
    return { state: 'failed', alive, exitCode: status.exitCode, status };
  if (job.phase === 'checkpointed')
    return { state: 'checkpointed', alive, exitCode: undefined, status };
  // Neither running nor finished: killed from outside, or the machine rebooted.
  return { state: 'lost', alive, exitCode: undefined, status };
}
