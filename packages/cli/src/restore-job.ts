import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RestoreResult } from '@cryopipe/criu-client';
import { isAdopted, restoreUnderKeeper } from './adopted-job.ts';
import type { Progress } from './checkpoint-job.ts';
import { assertCheckpointOf, readCheckpointMeta } from './checkpoint-meta.ts';
import { describeCriuError, openCriu, requireRoot } from './criu.ts';
import { CliError, EXIT } from './errors.ts';
import { type FileCheck, reconcileFiles } from './file-state.ts';
import { mkdirPrivate } from './home.ts';
import { assertImagesIntact } from './image-manifest.ts';
import { assertImagesPrivate } from './image-safety.ts';
import type { JobRecord, JobStore } from './job-store.ts';
import { isJobRoot } from './liveness.ts';
import { acquireLock } from './lock.ts';
import { waitForFreePids } from './pids.ts';

export interface RestoreOptions {
  /** The checkpoint to restore; the newest when absent. */
  from?: number;
  /** How long a job without a PID namespace waits for its old pids to be free (default 5 s). */
  pidWaitMs?: number;
  /** How long to wait for another operation on the job to finish; 0 (default) fails at once. */
  lockWaitMs?: number;
}

export interface RestoreOutcome {
  id: string;
  from: number;
  rootPid: number;
  ms: number;
  files: FileCheck[];
  stats: RestoreResult['stats'];
}

/**
 * Brings a job back from a checkpoint. Everything that can be checked is
 * checked before criu runs, so a refusal changes nothing: the images must be
 * private, this job's, and exactly as written; every recorded output must
 * still hold its checkpointed bytes (one that only grew is cut back).
 */
export async function restoreJob(
  store: JobStore,
  job: JobRecord,
  options: RestoreOptions,
  progress: Progress,
): Promise<RestoreOutcome> {
  requireRoot('restore');
  const release = await acquireLock(store.lockPath(job.id), 'restore', {
    waitMs: options.lockWaitMs ?? 0,
  });
  try {
    const fresh = store.load(job.id); // a restore that just finished changed the root pid
    if (isJobRoot(fresh.rootPid, fresh.id)) {
      throw new CliError(
        `job ${fresh.id} is running (pid ${fresh.rootPid}): restoring it again would run it twice`,
        EXIT.failure,
        `stop it first with 'cryopipe kill ${fresh.id}', or checkpoint it`,
      );
    }
    // By directory name, not by what each checkpoint.json says: a directory
    // copied in from elsewhere must not pass for another checkpoint.
    const numbers = checkpointNumbers(store.checkpointsDir(fresh.id));
    if (numbers.length === 0) {
      throw new CliError(
        `job ${fresh.id} has no complete checkpoint`,
        EXIT.notFound,
        `take one with 'cryopipe checkpoint ${fresh.id}' while it runs`,
      );
    }
    const number = options.from ?? numbers.at(-1)!;
    if (!numbers.includes(number)) {
      throw new CliError(
        `job ${fresh.id} has no checkpoint ${number}`,
        EXIT.notFound,
        `it has: ${numbers.join(', ')}`,
      );
    }
    const imagesDir = store.checkpointDir(fresh.id, number);
    assertImagesPrivate(imagesDir, store.home);
    const cp = readCheckpointMeta(imagesDir);
    assertCheckpointOf(cp, fresh.id, number, imagesDir);
    progress(`checking the images of checkpoint ${number}…`);
    assertImagesIntact(imagesDir, cp.images!);
    const files = reconcileFiles(cp.files);
    for (const c of files)
      if (c.action === 'truncate')
        progress(`${c.path}: cut back from ${c.from} to ${c.to} bytes (its checkpointed size)`);

    if (!fresh.pidNamespace) {
      // Plain mode restores the old PIDs; the dead tree's may still be taken for a moment.
      await waitForFreePids(cp.treePids ?? [cp.rootPid], options.pidWaitMs ?? 5000);
    }
    const workDir = mkdirPrivate(
      join(store.jobDir(fresh.id), 'restore-logs', `${Date.now()}-from-${number}`),
    );
    const criu = openCriu();
    progress(`restoring job ${fresh.id} from checkpoint ${number}…`);
    const started = performance.now();
    let result: RestoreResult;
    try {
      // An adopted job is a shell job: it comes back under a new keeper's terminal.
      result = isAdopted(fresh)
        ? { pid: await restoreUnderKeeper(store, fresh, imagesDir) }
        : await criu.restore({ imagesDir, workDir, logFile: 'restore.log' });
    } catch (err) {
      throw new CliError(
        `restore of job ${fresh.id} from checkpoint ${number} failed: ${describeCriuError(err)}\nThe images are intact.`,
        EXIT.failure,
        `criu's log: ${join(workDir, 'restore.log')}`,
        { cause: err },
      );
    } finally {
      await criu.close();
    }
    const ms = performance.now() - started;
    const latest = store.load(fresh.id);
    store.save({
      ...latest,
      phase: 'running',
      rootPid: result.pid,
      restores: [
        ...latest.restores,
        { at: new Date().toISOString(), from: number, rootPid: result.pid, ms },
      ],
    });
    return { id: fresh.id, from: number, rootPid: result.pid, ms, files, stats: result.stats };
  } finally {
    release();
  }
}

/** Numbers of the complete checkpoints (directories named N; partial ones are .tmp-*), ascending. */
function checkpointNumbers(checkpointsDir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(checkpointsDir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
}
