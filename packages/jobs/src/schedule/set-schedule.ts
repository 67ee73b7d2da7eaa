import { JobError } from '../errors.ts';
import type { JobRef, JobSchedule, JobStore } from '../store/job-store.ts';
import { liveRoot } from '../store/liveness.ts';
import { acquireLock } from '../store/lock.ts';
import { startPeriodicCheckpointer } from './periodic-checkpointer.ts';

/**
 * Sets a running job's periodic checkpoints (and starts its checkpointer), or
 * removes them with `undefined` (its checkpointer exits at its next tick;
 * checkpoints already taken stay). Returns the checkpointer's pid when one
 * was started.
 */
export async function setSchedule(
  store: JobStore,
  ref: JobRef,
  schedule: JobSchedule | undefined,
): Promise<number | undefined> {
  const job = store.resolve(ref);
  if (schedule !== undefined && liveRoot(store, job) === undefined) {
    throw new JobError(
      `job ${job.id} is not running`,
      'FAILED',
      'restore it first; a restore restarts a schedule the job already had',
    );
  }
  // job.json is rewritten by checkpoint and restore too: change it under the job lock.
  const release = await acquireLock(store.lockPath(job.id), 'schedule', { waitMs: 30_000 });
  try {
    const { schedule: _old, ...rest } = store.load(job.id);
    store.save(schedule === undefined ? rest : { ...rest, schedule });
  } finally {
    release();
  }
  return schedule === undefined ? undefined : startPeriodicCheckpointer(store, job.id);
}
