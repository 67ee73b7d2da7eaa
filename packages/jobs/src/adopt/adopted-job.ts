import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findCriu } from '@cryopipe/criu-client';
import { stageLogName, startKeeper } from '@cryopipe/spawn';
import { JobError } from '../errors.ts';
import type { JobRecord, JobStore } from '../store/job-store.ts';

/**
 * A job taken over with `cryopipe adopt`: its tree runs as a shell job under
 * a keeper (`cryopipe-launch --keep`) that owns its terminal. The keeper is
 * the job's root for ps, kill and wait; checkpoints dump the tree below it
 * (the keeper itself can't be dumped: criu won't dump the nested time
 * namespace a restore put the tree in), and restores start a new keeper.
 */
export interface AdoptedInfo {
  /** The pid that was adopted (the tree's root at adoption time). */
  pid: number;
  /** The terminal(s) it was attached to then. */
  terminals: string[];
}

export type MaybeAdopted = JobRecord & { adopted?: AdoptedInfo };

export function isAdopted(job: JobRecord): job is JobRecord & { adopted: AdoptedInfo } {
  return (job as MaybeAdopted).adopted !== undefined;
}

/** Findings that a `--shell-job` dump restored under the keeper's own terminal takes care of. */
export const SOLVED_BY_SHELL_JOB: ReadonlySet<string> = new Set([
  'controlling-terminal',
  'terminal-descriptors',
  'root-not-session-leader',
  'session-leader-outside',
]);

/** The adopted tree's root below the keeper, as the keeper recorded it (RUNDIR/root.pid). */
export function adoptedTreeRoot(store: JobStore, job: JobRecord): number {
  const path = join(store.runDir(job.id), 'root.pid');
  const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
  if (!Number.isInteger(pid) || pid <= 1) {
    throw new JobError(
      `job ${job.id}: ${path} holds no pid`,
      'FAILED',
      "the keeper did not record its tree; see the job's launcher.log",
    );
  }
  return pid;
}

/** Restores an adopted job's shell-job images under a new keeper; returns the keeper's pid. */
export async function restoreUnderKeeper(
  store: JobStore,
  job: JobRecord,
  imagesDir: string,
): Promise<number> {
  const kept = await startKeeper({
    runDir: store.runDir(job.id),
    imagesDir,
    terminalLog: join(store.logsDir(job.id), stageLogName(0)),
    criu: findCriu(),
  });
  return kept.keeperPid;
}
