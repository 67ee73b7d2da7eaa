import { existsSync } from 'node:fs';
import { CliError, EXIT } from './errors.ts';

/**
 * Waits until none of `pids` exists. After a dump kills a tree, PID 1 reaps
 * it lazily, so its PIDs can stay taken for a second or so; restoring sooner
 * fails with "Can't fork for N: File exists".
 */
export async function waitForFreePids(pids: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const taken = pids.filter((p) => existsSync(`/proc/${p}`));
    if (taken.length === 0) return;
    if (Date.now() >= deadline) {
      throw new CliError(
        `PID${taken.length > 1 ? 's' : ''} ${taken.join(', ')} needed by the restore ${taken.length > 1 ? 'are' : 'is'} taken by another process`,
        EXIT.failure,
        'this job runs without a PID namespace, so it needs its old PIDs; wait for those processes to end, or start jobs without --no-pid-namespace',
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
