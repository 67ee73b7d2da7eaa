// Finding and reading one checkpoint of a job for `cryopipe inspect`: which
// numbers exist, the safety checks restore makes, then criu's images.
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type CheckpointSummary, ImageError, readCheckpoint } from '@cryopipe/criu-client/images';
import {
  assertCheckpointOf,
  assertImagesPrivate,
  type CheckpointMeta,
  JobError,
  type JobRecord,
  type JobStore,
  readCheckpointMeta,
} from '@cryopipe/jobs';
import { CliError, EXIT, EXIT_FOR_CODE } from '../errors.ts';

export interface LoadedCheckpoint {
  number: number;
  dir: string;
  /** cryopipe's own checkpoint.json. */
  meta: CheckpointMeta;
  /** What criu's images say. */
  summary: CheckpointSummary;
}

/**
 * The job's complete checkpoints, by directory name (as restore picks them):
 * a numbered directory with its checkpoint.json. Partial ones are `.tmp-*`.
 */
export function checkpointNumbers(store: JobStore, job: JobRecord): number[] {
  let names: string[];
  try {
    names = readdirSync(store.checkpointsDir(job.id));
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d+$/.test(n))
    .filter((n) => existsSync(join(store.checkpointsDir(job.id), n, 'checkpoint.json')))
    .map(Number)
    .sort((a, b) => a - b);
}

/** A checkpoint number from the command line, or a usage error. */
export function parseNumber(value: string, what: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new CliError(
      `${what} needs a checkpoint number, got '${value}'`,
      EXIT.usage,
      "the numbers are listed by 'cryopipe inspect JOB' and 'cryopipe ps'",
    );
  }
  return n;
}

/** Checkpoint `number` (default: the newest) after the checks restore makes, decoded. */
export async function loadCheckpoint(
  store: JobStore,
  job: JobRecord,
  numbers: number[],
  number: number | undefined,
): Promise<LoadedCheckpoint> {
  if (numbers.length === 0) {
    throw new CliError(
      `job ${job.id} has no complete checkpoint`,
      EXIT.notFound,
      `take one with 'cryopipe checkpoint ${job.id} --leave-running' while it runs`,
    );
  }
  const n = number ?? numbers.at(-1)!;
  if (!numbers.includes(n)) {
    throw new CliError(
      `job ${job.id} has no checkpoint ${n}`,
      EXIT.notFound,
      `it has: ${numbers.join(', ')}`,
    );
  }
  const dir = store.checkpointDir(job.id, n);
  try {
    accessSync(dir, constants.R_OK | constants.X_OK);
  } catch (err) {
    throw new CliError(
      `can't read checkpoint ${n} of job ${job.id} (${(err as NodeJS.ErrnoException).code})`,
      EXIT.environment,
      "checkpoint images are private to the user who took them (root): run 'sudo cryopipe inspect …'",
    );
  }
  // The images are decoded here as root: refuse what restore would refuse,
  // images someone else could have written, or another job's checkpoint.
  try {
    assertImagesPrivate(dir, store.home);
  } catch (err) {
    if (!JobError.is(err)) throw err;
    throw new CliError(
      err.message.replace(/^refusing to restore/, 'refusing to read'),
      EXIT.refused,
      err.hint,
    );
  }
  const meta = readMetaOf(job.id, n, dir);
  let summary: CheckpointSummary;
  try {
    summary = await readCheckpoint(dir);
  } catch (err) {
    throw damaged(err, dir, n);
  }
  return { number: n, dir, meta, summary };
}

/**
 * checkpoint.json through the engine's strict reader and its "is this the
 * job's checkpoint N" check: inspect refuses exactly what restore refuses.
 */
function readMetaOf(jobId: string, n: number, dir: string): CheckpointMeta {
  try {
    const meta = readCheckpointMeta(dir);
    assertCheckpointOf(meta, jobId, n, dir);
    return meta;
  } catch (err) {
    if (!JobError.is(err)) throw err;
    throw new CliError(
      err.message.replace(/^refusing to restore/, 'refusing to read'),
      EXIT_FOR_CODE[err.code],
      `inspect another checkpoint ('cryopipe inspect ${jobId} N'); images are read only in the job that took them`,
      { cause: err },
    );
  }
}

/** A malformed image (or one we can't read) as a one-line error naming the image. */
export function damaged(err: unknown, dir: string, n?: number): unknown {
  const where = n === undefined ? dir : `checkpoint ${n} (${dir})`;
  if (ImageError.is(err)) {
    return new CliError(
      `damaged image in ${where}: ${err.message}`,
      EXIT.failure,
      'a restore from these images would fail too; restore or inspect another checkpoint',
      { cause: err },
    );
  }
  const e = err as NodeJS.ErrnoException;
  if (e?.code && e.path) {
    return new CliError(`can't read ${e.path} (${e.code})`, EXIT.failure, undefined, {
      cause: err,
    });
  }
  return err;
}
