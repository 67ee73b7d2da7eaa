import type { Command } from '../command.ts';
import { requireRoot } from '../criu.ts';
import { CliError, EXIT } from '../errors.ts';
import { jobRef } from '../job-ref.ts';
import { formatDuration } from '../output.ts';
import { startPeriodicCheckpointer } from '../periodic-checkpointer.ts';
import { restoreJob } from '../restore-job.ts';

export const restore: Command = {
  name: 'restore',
  summary: 'bring a checkpointed job back to life (after a reboot too)',
  usage: 'JOB [--from N]',
  description: `Restores the newest checkpoint (or checkpoint N). Refuses images that someone
other than you or root owns or could write. Every file the job had open for
writing must still hold its checkpointed bytes: a file that only grew since is
cut back to its checkpointed size (CRIU refuses it otherwise); a file that
shrank or was rewritten stops the restore, naming the file. Images are never
modified, so a failed restore can simply be retried.`,
  options: {
    from: {
      type: 'string',
      valueName: 'N',
      description: 'restore checkpoint N instead of the newest',
    },
  },
  examples: ['cryopipe restore enc', 'cryopipe restore enc --from 2'],
  async run({ values, positionals, store, out }) {
    requireRoot('restore');
    const job = store.resolve(jobRef(positionals));
    let from: number | undefined;
    if (values.from !== undefined) {
      from = Number(values.from);
      if (!Number.isSafeInteger(from) || from < 1) {
        throw new CliError(
          `--from needs a checkpoint number, got '${values.from}'`,
          EXIT.usage,
          `list them with 'cryopipe ps'`,
        );
      }
    }
    const r = await restoreJob(store, job, from === undefined ? {} : { from }, (text) =>
      out.progress(text),
    );
    // A job that had periodic checkpoints gets its checkpointer back.
    if (job.schedule) startPeriodicCheckpointer(store, r.id);
    out.result({ id: r.id, from: r.from, rootPid: r.rootPid, ms: r.ms, files: r.files });
    out.line(
      `restored ${r.id} from checkpoint ${r.from} in ${formatDuration(r.ms)}: running as pid ${r.rootPid}`,
    );
    return EXIT.ok;
  },
};
