import { requireRoot } from './criu.ts';
import { CliError, EXIT } from './errors.ts';
import type { JobRecord } from './job-store.ts';
import { parseDuration, parseKeep } from './schedule-duration.ts';

/** `run --checkpoint-every D [--keep N]` as a job's schedule; checked before anything starts. */
export function parseSchedule(every: unknown, keep: unknown): JobRecord['schedule'] | undefined {
  if (every === undefined) {
    if (keep !== undefined)
      throw new CliError('--keep only applies with --checkpoint-every DURATION', EXIT.usage);
    return undefined;
  }
  const everyMs = parseDuration(String(every), '--checkpoint-every');
  const n = keep === undefined ? undefined : parseKeep(String(keep));
  requireRoot('periodic checkpoints');
  return { everyMs, ...(n ? { keep: n } : {}) };
}
