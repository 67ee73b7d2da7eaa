import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { JobStore } from '../store/job-store.ts';
import { acquireLock } from '../store/lock.ts';
import { checkpointNumbers } from './checkpoint-files.ts';

/**
 * Deletes the oldest complete checkpoints of a job beyond `keep`. Runs under
 * the job lock, so it never removes a checkpoint a restore or export is
 * reading, and never touches the newest one nor a dump still in progress
 * (those are `.tmp-*`, not counted). Each victim is first renamed to a
 * `.tmp-N-PID` name, which is atomic: a crash halfway leaves garbage the next
 * checkpoint sweeps up, never a half-deleted checkpoint that looks complete.
 */
export async function applyRetention(
  store: JobStore,
  jobId: string,
  keep: number,
  opts: { lockWaitMs?: number } = {},
): Promise<number[]> {
  const release = await acquireLock(store.lockPath(jobId), 'retention', {
    waitMs: opts.lockWaitMs ?? 0,
  });
  try {
    const dir = store.checkpointsDir(jobId);
    const complete = checkpointNumbers(dir, true);
    const victims = complete.slice(0, Math.max(0, complete.length - Math.max(1, keep)));
    for (const n of victims) {
      const doomed = join(dir, `.tmp-${n}-${process.pid}`);
      renameSync(join(dir, String(n)), doomed);
      rmSync(doomed, { recursive: true, force: true });
    }
    return victims;
  } finally {
    release();
  }
}
