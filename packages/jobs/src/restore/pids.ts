import { existsSync, readFileSync } from 'node:fs';
import { JobError } from '../errors.ts';

/** "1234 (sleep)": a pid and the command holding it now, for messages. */
function describeHolder(pid: number): string {
  try {
    return `${pid} (${readFileSync(`/proc/${pid}/comm`, 'utf8').trim()})`;
  } catch {
    return String(pid);
  }
}

/**
 * Waits until none of `pids` exists. After a dump kills a tree, PID 1 reaps
 * it lazily, so its PIDs can stay taken for a second or so; restoring sooner
 * fails with "Can't fork for N: File exists". Past `timeoutMs`, fails naming
 * the pids still taken and what holds them.
 */
export async function waitForFreePids(pids: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const taken = pids.filter((p) => existsSync(`/proc/${p}`));
    if (taken.length === 0) return;
    if (Date.now() >= deadline) {
      const many = taken.length > 1;
      throw new JobError(
        `PID${many ? 's' : ''} ${taken.map(describeHolder).join(', ')} needed by the restore ${many ? 'are' : 'is'} still taken after ${Math.round(timeoutMs / 1000)} s`,
        'FAILED',
        'this job runs without a PID namespace, so it needs its old PIDs back; end those processes and restore again, or start jobs without --no-pid-namespace',
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
