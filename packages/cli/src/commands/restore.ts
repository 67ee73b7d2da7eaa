import { join } from 'node:path';
import type { Command } from '../command.ts';
import { describeCriuError, openCriu } from '../criu.ts';
import { CliError, EXIT } from '../errors.ts';
import { reconcileFiles } from '../file-state.ts';
import { mkdirPrivate } from '../home.ts';
import { assertImagesPrivate } from '../image-safety.ts';
import { jobRef } from '../job-ref.ts';
import { isJobRoot } from '../liveness.ts';
import { acquireLock } from '../lock.ts';
import { formatDuration } from '../output.ts';
import { waitForFreePids } from '../pids.ts';

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
    const job = store.resolve(jobRef(positionals));
    if (isJobRoot(job.rootPid)) {
      throw new CliError(
        `job ${job.id} is running (pid ${job.rootPid}): restoring it again would run it twice`,
        EXIT.failure,
        `stop it first with 'cryopipe kill ${job.id}', or checkpoint it`,
      );
    }
    const release = acquireLock(store.lockPath(job.id), 'restore');
    try {
      const checkpoints = store.checkpoints(job.id);
      if (checkpoints.length === 0) {
        throw new CliError(
          `job ${job.id} has no complete checkpoint`,
          EXIT.notFound,
          `take one with 'cryopipe checkpoint ${job.id}' while it runs`,
        );
      }
      const wanted = values.from === undefined ? undefined : Number(values.from);
      const cp =
        wanted === undefined ? checkpoints.at(-1)! : checkpoints.find((c) => c.number === wanted);
      if (!cp) {
        throw new CliError(
          `job ${job.id} has no checkpoint ${values.from}`,
          EXIT.notFound,
          `it has: ${checkpoints.map((c) => c.number).join(', ')}`,
        );
      }
      const imagesDir = store.checkpointDir(job.id, cp.number);
      assertImagesPrivate(imagesDir, store.home);
      const checks = reconcileFiles(cp.files);
      for (const c of checks)
        if (c.action === 'truncate')
          out.progress(
            `${c.path}: cut back from ${c.from} to ${c.to} bytes (its checkpointed size)`,
          );

      if (!job.pidNamespace) {
        // Plain mode restores the old PIDs; the dead tree's may still be taken for a moment.
        await waitForFreePids([cp.rootPid], 5000);
      }
      const workDir = mkdirPrivate(
        join(store.jobDir(job.id), 'restore-logs', `${Date.now()}-from-${cp.number}`),
      );
      const criu = openCriu();
      out.progress(`restoring job ${job.id} from checkpoint ${cp.number}…`);
      const started = performance.now();
      let pid: number;
      try {
        pid = (await criu.restore({ imagesDir, workDir, logFile: 'restore.log' })).pid;
      } catch (err) {
        throw new CliError(
          `restore of job ${job.id} from checkpoint ${cp.number} failed: ${describeCriuError(err)}\nThe images are intact.`,
          EXIT.failure,
          `criu's log: ${join(workDir, 'restore.log')}`,
          { cause: err },
        );
      } finally {
        await criu.close();
      }
      const ms = performance.now() - started;
      const fresh = store.load(job.id);
      store.save({
        ...fresh,
        phase: 'running',
        rootPid: pid,
        restores: [
          ...fresh.restores,
          { at: new Date().toISOString(), from: cp.number, rootPid: pid, ms },
        ],
      });
      out.result({ id: job.id, from: cp.number, rootPid: pid, ms, files: checks });
      out.line(
        `restored ${job.id} from checkpoint ${cp.number} in ${formatDuration(ms)}: running as pid ${pid}`,
      );
      return EXIT.ok;
    } finally {
      release();
    }
  },
};
