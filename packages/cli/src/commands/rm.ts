import { acquireLock, liveRoot } from '@cryopipe/jobs';
import type { Command } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import { jobRef } from '../job-ref.ts';

export const rm: Command = {
  name: 'rm',
  summary: 'remove a job that is not running, with its logs and checkpoints',
  usage: 'JOB…',
  options: {},
  examples: ['cryopipe rm enc'],
  async run({ positionals, store, out }) {
    jobRef(positionals);
    const removed: string[] = [];
    for (const ref of positionals) {
      const job = store.resolve(ref);
      if (liveRoot(store, job) !== undefined) {
        throw new CliError(
          `job ${job.id} is running`,
          EXIT.failure,
          `stop it first: cryopipe kill ${job.id}`,
        );
      }
      const release = await acquireLock(store.lockPath(job.id), 'rm');
      try {
        store.remove(job.id);
      } finally {
        release();
      }
      removed.push(job.id);
      out.line(`removed ${job.id}`);
    }
    out.result({ removed });
    return EXIT.ok;
  },
};
