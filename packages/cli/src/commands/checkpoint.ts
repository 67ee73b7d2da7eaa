import { checkpointJob } from '../checkpoint-job.ts';
import type { Command } from '../command.ts';
import { requireRoot } from '../criu.ts';
import { EXIT } from '../errors.ts';
import { jobRef } from '../job-ref.ts';
import { formatBytes, formatDuration } from '../output.ts';

export const checkpoint: Command = {
  name: 'checkpoint',
  summary: 'freeze a running job to disk (and stop it, unless --leave-running)',
  usage: 'JOB [--leave-running]',
  description: `Checks first that the tree can be dumped (see 'cryopipe diagnose') and refuses
with the findings if not. Images go to a temporary directory and become
checkpoint N only when complete, so a failure leaves the job running and
every earlier checkpoint intact. For each file the job has open for writing,
its size and a hash of its last 64 KiB are recorded, so 'restore' can put a
file that grew since back to its checkpointed size.`,
  options: {
    'leave-running': {
      type: 'boolean',
      description: 'keep the job running after the dump (a live checkpoint)',
    },
  },
  examples: ['cryopipe checkpoint enc', 'cryopipe checkpoint enc --leave-running --json'],
  async run({ values, positionals, store, out }) {
    requireRoot('checkpoint');
    const job = store.resolve(jobRef(positionals));
    const leaveRunning = Boolean(values['leave-running']);
    const { id, record, stats } = await checkpointJob(store, job, { leaveRunning }, (text) =>
      out.progress(text),
    );
    out.result({
      id,
      checkpoint: record.number,
      leaveRunning,
      imageBytes: record.imageBytes,
      frozenMs: record.frozenMs,
      dumpMs: record.dumpMs,
      stats,
      files: record.files,
    });
    out.line(
      `checkpoint ${record.number} of ${id}: ${formatBytes(record.imageBytes)} of images, ` +
        `frozen ${record.frozenMs !== undefined ? formatDuration(record.frozenMs) : '?'}, ` +
        `${formatDuration(record.dumpMs)} in all; job ${leaveRunning ? 'still running' : 'stopped'}`,
    );
    return EXIT.ok;
  },
};
