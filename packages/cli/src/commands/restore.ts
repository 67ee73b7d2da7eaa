import { resolve } from 'node:path';
import { requireRoot, restoreJob, startPeriodicCheckpointer } from '@cryopipe/jobs';
import type { Command } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import { jobRef } from '../job-ref.ts';
import { formatDuration } from '../output.ts';
import { ProgressLine } from '../progress-line.ts';

export const restore: Command = {
  name: 'restore',
  summary: 'bring a checkpointed job back to life (after a reboot too)',
  usage: 'JOB [--from N] [--as NAME [--output-dir DIR]] [--verify]',
  description: `Restores the newest checkpoint (or checkpoint N). Refuses images that someone
other than you or root owns or could write. Every file the job had open for
writing must still hold its checkpointed bytes: a file that only grew since is
cut back to its checkpointed size (CRIU refuses it otherwise); a file that
shrank or was rewritten stops the restore, naming the file. Images are never
modified, so a failed restore can simply be retried.

The images must be exactly as the checkpoint wrote them. On the machine that
took the checkpoint this costs a stat per image: an image with its recorded
device, inode, size, mtime and ctime is the file whose SHA-256 was taken,
unchanged since. Only when an identity changed (an imported or copied
checkpoint, an image someone wrote to) is every image's content hashed again;
--verify always does that.

With --as NAME the checkpoint starts a copy instead: a new job NAME with its
own run directory, logs and outputs (the checkpointed bytes of each output
are copied to --output-dir, by default the copy's own outputs/ directory),
while the original stays as it is — running, or restorable again. Copies
need a job started in its own PID namespace (the default of 'cryopipe run').`,
  options: {
    from: {
      type: 'string',
      valueName: 'N',
      description: 'restore checkpoint N instead of the newest',
    },
    as: {
      type: 'string',
      valueName: 'NAME',
      description: 'start a copy of the checkpoint as a new job NAME; the original is left alone',
    },
    'output-dir': {
      type: 'string',
      valueName: 'DIR',
      description: "with --as: where the copy's outputs go (default: its job directory's outputs/)",
    },
    verify: {
      type: 'boolean',
      description: "hash every image's content, even when their identities say they are unchanged",
    },
  },
  examples: [
    'cryopipe restore enc',
    'cryopipe restore enc --verify --json',
    'cryopipe restore enc --from 2',
    'cryopipe restore enc --as enc-b --output-dir /srv/try-b',
  ],
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
    const copyName = values.as as string | undefined;
    const outputDir = values['output-dir'] as string | undefined;
    if (outputDir !== undefined && copyName === undefined) {
      throw new CliError(
        '--output-dir only applies to a copy',
        EXIT.usage,
        "add --as NAME, or drop --output-dir: an in-place restore writes the job's own files",
      );
    }
    const shown = new ProgressLine(out);
    const r = await restoreJob(store, job, {
      ...(from === undefined ? {} : { from }),
      ...(copyName === undefined
        ? {}
        : {
            as: copyName,
            ...(outputDir === undefined ? {} : { outputDir: resolve(outputDir) }),
            // The original may be busy with a checkpoint or another restore for a moment.
            lockWaitMs: 60_000,
          }),
      ...(values.verify ? { verify: true } : {}),
      onProgress: shown.text,
      onBytes: shown.bytes,
    }).finally(() => shown.end());
    // A job that had periodic checkpoints gets its checkpointer back.
    if (job.schedule) startPeriodicCheckpointer(store, r.id);
    out.result({
      id: r.id,
      ...(r.copyOf ? { copyOf: r.copyOf } : {}),
      from: r.from,
      rootPid: r.rootPid,
      ms: r.ms,
      files: r.files,
      moved: r.moved,
      verified: r.verified,
    });
    const restored = r.copyOf ? `started ${r.id} as a copy of ${r.copyOf}` : `restored ${r.id}`;
    out.line(
      `${restored} from checkpoint ${r.from} in ${formatDuration(r.ms)}: running as pid ${r.rootPid}`,
    );
    if (r.copyOf) for (const m of r.moved) out.line(`  ${m.from} -> ${m.to}`);
    return EXIT.ok;
  },
};
