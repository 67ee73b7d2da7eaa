import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JobError } from '../errors.ts';
import type { InputRecord } from '../integrity/file-state.ts';
import type { ImageEntry } from '../integrity/image-manifest.ts';
import type { CheckpointRecord } from '../store/job-store.ts';

/**
 * checkpoint.json as written since the fault matrix: the job it belongs to,
 * every host pid of the tree (plain mode only) and a manifest of the images.
 * Older checkpoints lack these fields.
 */
export interface CheckpointMeta extends CheckpointRecord {
  /** The job whose tree these images hold. */
  jobId?: string;
  /**
   * Where that job's directory was when the images were taken: the tree
   * reopens its run directory and logs by these paths unless a restore
   * relocates them (a copy under another name, or an import into another home).
   */
  jobDir?: string;
  /** Files the tree only reads (its inputs): a restore refuses when one changed. */
  inputs?: InputRecord[];
  /** /etc/machine-id of the machine that took it: inode identities only mean something there. */
  machineId?: string;
  /** Host pids of the dumped tree; a restore without a PID namespace needs them all free. */
  treePids?: number[];
  /** Name, size and sha256 of every image file. */
  images?: ImageEntry[];
  /** Whether memory was pre-dumped while the job ran (images in pre/), and why. */
  preDump?: { used: boolean; why: string };
  /** A live checkpoint written to this fast directory first, then moved (taking moveMs). */
  stagedIn?: string;
  moveMs?: number;
}

/** Reads a checkpoint directory's metadata; a missing or torn file is an error that says so. */
export function readCheckpointMeta(dir: string): CheckpointMeta {
  try {
    return JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as CheckpointMeta;
  } catch (err) {
    throw new JobError(
      `${join(dir, 'checkpoint.json')} can't be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      'REFUSED',
      'this checkpoint is incomplete; restore another one with --from N',
    );
  }
}

/**
 * Refuses images that are not this job's checkpoint N: a checkpoint directory
 * copied in from another job would restore someone else's processes.
 */
export function assertCheckpointOf(
  meta: CheckpointMeta,
  jobId: string,
  number: number,
  dir: string,
): void {
  const problems: string[] = [];
  if (meta.jobId === undefined)
    problems.push('it does not say which job it belongs to (taken by an older cryopipe?)');
  else if (meta.jobId !== jobId) problems.push(`it belongs to job ${meta.jobId}`);
  if (meta.number !== number) problems.push(`it says it is checkpoint ${meta.number}`);
  if (!Array.isArray(meta.images)) problems.push('it has no manifest of its images');
  if (problems.length > 0) {
    throw new JobError(
      `refusing to restore ${dir} as checkpoint ${number} of job ${jobId}: ${problems.join('; ')}`,
      'REFUSED',
      'restore images only into the job that took them',
    );
  }
}
