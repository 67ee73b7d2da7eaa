import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type JobStore, writeJsonAtomic } from '../store/job-store.ts';

/** `jobs/ID/slurm.json`: which Slurm job a cryopipe job belongs to, and each of its runs. */
export interface SlurmRecord {
  /** The Slurm job id (`SLURM_JOB_ID`), the same across requeues. */
  slurmJobId: string;
  /** One entry per run of the batch script, oldest first. */
  runs: SlurmRunRecord[];
}

/** One run of the batch script: where it ran, how it began and how it ended. */
export interface SlurmRunRecord {
  /** `SLURM_RESTART_COUNT` of the run (0 for the first). */
  restartCount: number;
  /** The node it ran on (`SLURMD_NODENAME`). */
  node: string | undefined;
  /** When it began, ISO 8601. */
  at: string;
  /** `started` the pipeline, or `restored` checkpoint `from`. */
  action: 'started' | 'restored';
  /** The checkpoint restored. */
  from?: number;
  /** How long the start or restore took, in milliseconds. */
  ms: number;
  /** How the run ended; absent while it runs, or when it was killed without warning. */
  end?: SlurmRunEnd;
}

/** How a run ended. */
export interface SlurmRunEnd {
  /** When, ISO 8601. */
  at: string;
  /** `finished` (the pipeline ended) or `checkpointed` (stopped by a checkpoint, to go on later). */
  outcome: 'finished' | 'checkpointed';
  /** The pipeline's exit status, when it finished. */
  exitCode?: number;
  /** The signal that asked for the checkpoint. */
  signal?: string;
  /** The stopping checkpoint's number. */
  checkpoint?: number;
  /** From the signal to the checkpoint on disk, in milliseconds. */
  checkpointMs?: number;
  /** Whether `scontrol requeue` succeeded (false: Slurm requeues it itself, or it was cancelled). */
  requeued?: boolean;
}

const FILE = 'slurm.json';

/** The job's Slurm record, or undefined for a job not run by `cryopipe slurm`. */
export function readSlurmRecord(store: JobStore, id: string): SlurmRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(store.jobDir(id), FILE), 'utf8')) as SlurmRecord;
  } catch {
    return undefined;
  }
}

/** Writes the job's Slurm record (atomically). */
export function writeSlurmRecord(store: JobStore, id: string, record: SlurmRecord): void {
  writeJsonAtomic(join(store.jobDir(id), FILE), record);
}

/** Adds a run to the job's record (made when missing). */
export function recordRun(
  store: JobStore,
  id: string,
  slurmJobId: string,
  run: SlurmRunRecord,
): void {
  const rec = readSlurmRecord(store, id) ?? { slurmJobId, runs: [] };
  writeSlurmRecord(store, id, { ...rec, slurmJobId, runs: [...rec.runs, run] });
}

/** Records how the newest run ended. */
export function recordRunEnd(store: JobStore, id: string, end: SlurmRunEnd): void {
  const rec = readSlurmRecord(store, id);
  const last = rec?.runs.at(-1);
  if (!rec || !last) return;
  writeSlurmRecord(store, id, { ...rec, runs: [...rec.runs.slice(0, -1), { ...last, end }] });
}
