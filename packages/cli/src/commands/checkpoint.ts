import { renameSync, rmSync } from 'node:fs';
import { release as kernelRelease } from 'node:os';
import { join } from 'node:path';
import { directoryBytes, nextCheckpointNumber } from '../checkpoint-files.ts';
import type { Command } from '../command.ts';
import { describeCriuError, openCriu } from '../criu.ts';
import { blockingFindings, diagnoseTree, formatFindings } from '../diagnosis.ts';
import { CliError, EXIT } from '../errors.ts';
import { type FileRecord, recordFile } from '../file-state.ts';
import { mkdirPrivate } from '../home.ts';
import { jobRef } from '../job-ref.ts';
import { type CheckpointRecord, writeJsonAtomic } from '../job-store.ts';
import { isJobRoot } from '../liveness.ts';
import { acquireLock } from '../lock.ts';
import { formatBytes, formatDuration } from '../output.ts';
import { writableFilesOfTree } from '../tree-files.ts';

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
    const job = store.resolve(jobRef(positionals));
    const leaveRunning = Boolean(values['leave-running']);
    if (!isJobRoot(job.rootPid)) {
      throw new CliError(
        `job ${job.id} is not running, so there is nothing to checkpoint`,
        EXIT.failure,
        `see 'cryopipe ps'`,
      );
    }
    const release = acquireLock(store.lockPath(job.id), 'checkpoint');
    const number = nextCheckpointNumber(store.checkpointsDir(job.id));
    const tmp = join(store.checkpointsDir(job.id), `.tmp-${number}-${process.pid}`);
    try {
      const findings = await diagnoseTree(job.rootPid);
      const blocking = blockingFindings(findings);
      if (blocking.length > 0) {
        throw new CliError(
          `job ${job.id} can't be checkpointed as it is:\n${formatFindings(blocking)}`,
          EXIT.refused,
          `see 'cryopipe diagnose ${job.rootPid}' for details`,
        );
      }
      mkdirPrivate(tmp);
      const criu = openCriu();
      let files: FileRecord[] = [];
      let version: string;
      const started = performance.now();
      let dumpMs: number;
      let stats: Awaited<ReturnType<typeof criu.dump>>['stats'];
      try {
        version = (await criu.version()).text;
        out.progress(`freezing job ${job.id} (pid ${job.rootPid}) and writing images…`);
        const result = await criu.dump(
          { pid: job.rootPid, imagesDir: tmp, logFile: 'dump.log', leaveRunning },
          {
            // The tree is frozen here: file sizes are exactly what criu records.
            postDump: async () => {
              files = (await writableFilesOfTree(job.rootPid)).map(recordFile);
            },
          },
        );
        dumpMs = performance.now() - started;
        stats = result.stats;
      } catch (err) {
        const still = isJobRoot(job.rootPid);
        throw new CliError(
          `checkpoint of job ${job.id} failed: ${describeCriuError(err)}\n${still ? 'The job is still running.' : 'The job is no longer running.'}`,
          EXIT.failure,
          `criu's full log was ${join(tmp, 'dump.log')} (removed); rerun with CRYOPIPE_KEEP_FAILED=1 to keep it`,
          { cause: err },
        );
      } finally {
        await criu.close();
      }
      const record: CheckpointRecord = {
        number,
        takenAt: new Date().toISOString(),
        leaveRunning,
        rootPid: job.rootPid,
        criuVersion: version,
        kernel: kernelRelease(),
        imageBytes: directoryBytes(tmp),
        ...(stats ? { frozenMs: stats.frozenTimeUs / 1000 } : {}),
        dumpMs,
        files,
      };
      writeJsonAtomic(join(tmp, 'checkpoint.json'), record);
      renameSync(tmp, store.checkpointDir(job.id, number));
      if (!leaveRunning) store.save({ ...store.load(job.id), phase: 'checkpointed' });
      out.result({
        id: job.id,
        checkpoint: record.number,
        leaveRunning,
        imageBytes: record.imageBytes,
        frozenMs: record.frozenMs,
        dumpMs,
        stats,
        files,
      });
      out.line(
        `checkpoint ${number} of ${job.id}: ${formatBytes(record.imageBytes)} of images, ` +
          `frozen ${record.frozenMs !== undefined ? formatDuration(record.frozenMs) : '?'}, ` +
          `${formatDuration(dumpMs)} in all; job ${leaveRunning ? 'still running' : 'stopped'}`,
      );
      return EXIT.ok;
    } finally {
      if (!process.env.CRYOPIPE_KEEP_FAILED) rmSync(tmp, { recursive: true, force: true });
      release();
    }
  },
};
