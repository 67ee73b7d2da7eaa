import type { JobRecord, JobStore } from '../store/job-store.ts';
import { runningCheckpointer } from './checkpointer-state.ts';
import { DEFAULT_KEEP, formatInterval } from './schedule-duration.ts';

/** A job's checkpoint schedule, summarised for display. */
export interface ScheduleSummary {
  /** Interval between checkpoints, in milliseconds. */
  everyMs: number;
  /** How many periodic checkpoints are kept; undefined: the default. */
  keep?: number;
  /** The background checkpointer's pid while it runs. */
  checkpointerPid?: number;
  /** For the EVERY column: `5m/3 (1234)`: every 5 minutes, keep 3, checkpointer pid 1234 while it runs. */
  text: string;
}

/** A job's schedule as `ps` shows it, or undefined for a job without one. */
export function scheduleSummary(store: JobStore, job: JobRecord): ScheduleSummary | undefined {
  if (!job.schedule) return undefined;
  const pid = runningCheckpointer(store, job.id);
  // Schedules made before there was a default keep get it too (the checkpointer applies it).
  const keep = job.schedule.keep ?? DEFAULT_KEEP;
  return {
    everyMs: job.schedule.everyMs,
    ...(keep ? { keep } : {}),
    ...(pid ? { checkpointerPid: pid } : {}),
    text: `${formatInterval(job.schedule.everyMs)}${keep ? `/${keep}` : ''}${pid ? ` (${pid})` : ''}`,
  };
}
