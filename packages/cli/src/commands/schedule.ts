import {
  DEFAULT_KEEP,
  formatInterval,
  parseSchedule,
  requireRoot,
  runPeriodicCheckpointer,
  setSchedule,
} from '@cryopipe/jobs';
import type { Command } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import { jobRef } from '../job-ref.ts';

export const schedule: Command = {
  name: 'schedule',
  summary: 'take live checkpoints of a running job on a schedule, keeping the newest N',
  usage: 'JOB --every DURATION [--keep N] [--staging-dir DIR]\n       cryopipe schedule JOB --off',
  description: `Starts a small background process (its own session, log in the job's
periodic/ directory, no part of the job) that takes a --leave-running
checkpoint every DURATION (90s, 5m, 1h, 1h30m) and then deletes the oldest
complete checkpoints beyond --keep N (default ${DEFAULT_KEEP}). Before each checkpoint it
checks the free space where the images go (and in the staging directory):
when less than the last checkpoint's size plus a margin is free, that
checkpoint is skipped and the reason logged. It exits when the job stops running;
'cryopipe restore' starts it again. 'cryopipe run --checkpoint-every' does the
same from the start. After a crash, 'cryopipe restore JOB' resumes from the
newest complete checkpoint.`,
  options: {
    every: { type: 'string', valueName: 'DURATION', description: 'interval between checkpoints' },
    keep: {
      type: 'string',
      valueName: 'N',
      description: `keep only the newest N checkpoints (default ${DEFAULT_KEEP})`,
    },
    'staging-dir': {
      type: 'string',
      valueName: 'DIR',
      description: 'write images to DIR (e.g. /dev/shm) first, move them once the job resumed',
    },
    off: { type: 'boolean', description: 'stop the schedule (checkpoints already taken stay)' },
    foreground: {
      type: 'boolean',
      description: 'run the checkpointer in this process (what the background process runs)',
    },
  },
  examples: ['cryopipe schedule enc --every 5m --keep 3', 'cryopipe schedule enc --off'],
  async run({ values, positionals, store, out }) {
    requireRoot('schedule');
    const job = store.resolve(jobRef(positionals));
    if (values.foreground) {
      await runPeriodicCheckpointer(store, job.id, (text) =>
        process.stdout.write(`${new Date().toISOString()} ${text}\n`),
      );
      return EXIT.ok;
    }
    if (!values.off && values.every === undefined) {
      throw new CliError('give --every DURATION, or --off', EXIT.usage);
    }
    const schedule = values.off
      ? undefined
      : parseSchedule(
          { every: values.every, keep: values.keep, stagingDir: values['staging-dir'] },
          '--every',
        );
    const pid = await setSchedule(store, job, schedule);
    if (schedule === undefined) {
      out.result({ id: job.id, schedule: null });
      out.line(`periodic checkpoints of ${job.id} stopped`);
      return EXIT.ok;
    }
    const { everyMs, keep, stagingDir } = schedule;
    out.result({ id: job.id, schedule, checkpointerPid: pid });
    out.line(
      `checkpointing ${job.id} every ${formatInterval(everyMs)}${keep ? `, keeping ${keep}` : ''}${stagingDir ? `, staged in ${stagingDir}` : ''} (checkpointer pid ${pid})`,
    );
    return EXIT.ok;
  },
};
