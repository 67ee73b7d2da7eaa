import { waitForJob } from '@cryopipe/jobs/store';
import type { Command } from '../command.ts';
import { jobRef } from '../job-ref.ts';

export const wait: Command = {
  name: 'wait',
  summary: 'wait for a job to end and exit with its status (pipefail: rightmost failure)',
  usage: 'JOB',
  options: {},
  examples: ['cryopipe wait enc && echo encoded'],
  async run({ positionals, store, out }) {
    const job = store.resolve(jobRef(positionals));
    const done = await waitForJob(store, job);
    out.result({
      id: job.id,
      state: done.state,
      exitCode: done.exitCode,
      stages: done.status?.stages,
    });
    out.line(
      `${job.id} ${done.state}${done.exitCode !== undefined ? ` (exit ${done.exitCode})` : ''}`,
    );
    return done.exitCode;
  },
};
