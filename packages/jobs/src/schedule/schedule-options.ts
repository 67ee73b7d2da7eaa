import { resolve } from 'node:path';
import { JobError } from '../errors.ts';
import { requireRoot } from '../machine/criu.ts';
import type { JobRecord } from '../store/job-store.ts';
import { DEFAULT_KEEP, parseDuration, parseKeep } from './schedule-duration.ts';

/**
 * `--checkpoint-every D [--keep N] [--staging-dir DIR]` (run) or `--every D …`
 * (schedule) as a job's schedule; checked before anything starts.
 */
export function parseSchedule(
  values: { every: unknown; keep: unknown; stagingDir: unknown },
  everyFlag: '--checkpoint-every' | '--every',
): JobRecord['schedule'] | undefined {
  if (values.every === undefined) {
    for (const [flag, value] of [
      ['--keep', values.keep],
      ['--staging-dir', values.stagingDir],
    ] as const)
      if (value !== undefined)
        throw new JobError(`${flag} only applies with ${everyFlag} DURATION`, 'USAGE');
    return undefined;
  }
  const everyMs = parseDuration(String(values.every), everyFlag);
  const keep = values.keep === undefined ? DEFAULT_KEEP : parseKeep(String(values.keep));
  requireRoot('periodic checkpoints');
  return {
    everyMs,
    keep,
    ...(values.stagingDir === undefined ? {} : { stagingDir: resolve(String(values.stagingDir)) }),
  };
}
