import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type RunStatus, readRunStatus } from '@cryopipe/spawn';
import { checkpointNumbers } from '../checkpoint/checkpoint-files.ts';
import { type JobRecord, type JobRef, type JobStore, RESTORE_LOGS_DIR } from './job-store.ts';
import { realRunDir, scanForRoot, servesRunDir } from './live-root.ts';

/** What a job looks like right now, decided from the live system and the files on disk. */
export type JobState = 'running' | 'checkpointed' | 'exited' | 'failed' | 'lost' | 'migrated';

/** Whether a job's processes run, checked against /proc and the run status. */
export interface Liveness {
  /** The job's state, from its phase and whether its root lives. */
  state: JobState;
  /** The dump root is a live launcher of this job. */
  alive: boolean;
  /** Host pid of the running dump root (which job.json may not know yet after a crash). */
  rootPid: number | undefined;
  /** The pipeline's exit status once it ended; undefined while running or unknown. */
  exitCode: number | undefined;
  /** The run status file; undefined when it could not be read. */
  status: RunStatus | undefined;
}

/**
 * Is `pid` the live dump root of `job`? Pids are reused: after a job stops,
 * another process — even another job's launcher (a plain-mode restore gets
 * its old pids back) — can hold its recorded pid, and signalling or
 * checkpointing that would hit the wrong job. So the process must run the
 * cryopipe launcher, not be a zombie, and hold this job's run directory open
 * on RUN_DIR_FD (a copy restored under another id keeps the original's argv,
 * so the descriptor decides; keepers and older launchers only have argv).
 */
export function isJobRoot(store: JobStore, job: Pick<JobRecord, 'id'>, pid: number): boolean {
  return servesRunDir(pid, realRunDir(store.runDir(job.id)));
}

/**
 * The host pid of the job's running tree, or undefined: the recorded pid
 * when it still is the job's root, else whichever launcher holds the job's
 * run directory — a `restore` killed after criu brought the tree back never
 * recorded the new pid, but the tree runs all the same.
 */
export function liveRoot(
  store: JobStore,
  job: Pick<JobRecord, 'id' | 'rootPid'>,
): number | undefined {
  const runDir = realRunDir(store.runDir(job.id));
  if (servesRunDir(job.rootPid, runDir)) return job.rootPid;
  return scanForRoot(runDir);
}

/**
 * The job's newest complete checkpoint, if it stopped the job: the
 * checkpoint directory is renamed into place before criu kills the tree, so
 * it is the record that survives a `checkpoint` killed before job.json was
 * written.
 */
function newestStoppingCheckpoint(
  store: JobStore,
  job: JobRecord,
): { takenMs: number } | undefined {
  const newest = checkpointNumbers(store.checkpointsDir(job.id), true).at(-1);
  if (newest === undefined) return undefined;
  const record = store.checkpoints(job.id).find((c) => c.number === newest);
  if (!record || record.leaveRunning) return undefined;
  const takenMs = Date.parse(record.takenAt);
  // Restored since (and recorded): whatever happened next, the tree ran after it.
  const restoredAt = Date.parse(job.restores.at(-1)?.at ?? '');
  return restoredAt > takenMs ? undefined : { takenMs };
}

/**
 * When the newest restore attempt of the job started (epoch ms): each one
 * makes its log directory, named after that moment, before criu runs, so it
 * is there even when the restore died before recording anything.
 */
function lastRestoreAttempt(store: JobStore, job: JobRecord): number | undefined {
  let names: string[];
  try {
    names = readdirSync(join(store.jobDir(job.id), RESTORE_LOGS_DIR));
  } catch {
    return undefined;
  }
  const times = names.map((n) => Number(/^(\d+)-/.exec(n)?.[1])).filter(Number.isFinite);
  return times.length ? Math.max(...times) : undefined;
}

/** Checks whether `job` runs: its recorded (or found) dump root is a live launcher of this job, and reads its run status. */
export async function jobLiveness(store: JobStore, job: JobRecord): Promise<Liveness> {
  // Liveness first, status second: the launcher writes its final status before
  // it exits, so a job found dead always has its last word on disk already.
  const rootPid = liveRoot(store, job);
  // No status yet (the launcher is starting) or a torn read: treat as unknown.
  const status = await readRunStatus(store.runDir(job.id)).catch(() => undefined);
  const base = { alive: rootPid !== undefined, rootPid, status };
  if (rootPid !== undefined) return { ...base, state: 'running', exitCode: undefined };
  // It runs on another machine now (`migrate`): its run status here ended with the SIGKILL.
  if (job.phase === 'migrated') return { ...base, state: 'migrated', exitCode: undefined };
  // A run that ended after a restore attempt that followed the newest stopping
  // checkpoint was that restore, finished: its own status is the truth.
  // Otherwise the checkpoint is (a keeper records the SIGKILL of its dumped
  // tree as an ending, but that was the checkpoint).
  const ended = status?.state === 'exited' || status?.state === 'failed';
  const stopped = newestStoppingCheckpoint(store, job);
  const attempt = lastRestoreAttempt(store, job);
  const restoredThenEnded =
    ended &&
    (stopped === undefined ||
      (attempt !== undefined && attempt > stopped.takenMs && (status.endedAt ?? 0) > attempt));
  if (!restoredThenEnded && (stopped !== undefined || job.phase === 'checkpointed'))
    return { ...base, state: 'checkpointed', exitCode: undefined };
  if (status?.state === 'exited')
    return {
      ...base,
      state: status.exitCode === 0 ? 'exited' : 'failed',
      exitCode: status.exitCode,
    };
  if (status?.state === 'failed') return { ...base, state: 'failed', exitCode: status.exitCode };
  // Neither running nor finished: killed from outside, or the machine rebooted.
  return { ...base, state: 'lost', exitCode: undefined };
}

/** Where a job stands right now: `running`, `checkpointed`, `exited`, `failed` or `lost`. */
export async function jobState(store: JobStore, ref: JobRef): Promise<Liveness> {
  return jobLiveness(store, store.resolve(ref));
}
