// Finding and reading one checkpoint of a job for `cryopipe inspect`: which
// numbers exist, the safety checks restore makes, then criu's images.
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CheckpointSummary, ImageError, readCheckpoint } from '@cryopipe/criu-client/images';
import {
  assertImagesPrivate,
  type CheckpointMeta,
  JobError,
  type JobRecord,
  type JobStore,
} from '@cryopipe/jobs';
import { CliError, EXIT } from '../errors.ts';

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
  const meta = readMeta(dir);
  assertCheckpointOf(meta, job.id, n, dir);
  let summary: CheckpointSummary;
  try {
    summary = await readCheckpoint(dir);
  } catch (err) {
    throw damaged(err, dir, n);
  }
  return { number: n, dir, meta, summary };
}

function readMeta(dir: string): CheckpointMeta {
  const path = join(dir, 'checkpoint.json');
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as CheckpointMeta;
  } catch (err) {
    throw new CliError(
      `${path} can't be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      EXIT.refused,
      'this checkpoint is incomplete; inspect another one',
    );
  }
}

function assertCheckpointOf(meta: CheckpointMeta, jobId: string, n: number, dir: string): void {
  const problems: string[] = [];
  if (meta.jobId === undefined)
    problems.push('its checkpoint.json does not say which job it belongs to');
  else if (meta.jobId !== jobId) problems.push(`it belongs to job ${meta.jobId}`);
  if (meta.number !== n) problems.push(`it says it is checkpoint ${meta.number}`);
  if (problems.length > 0) {
    throw new CliError(
      `refusing to read ${dir} as checkpoint ${n} of job ${jobId}: ${problems.join('; ')}`,
      EXIT.refused,
      'inspect images only in the job that took them',
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
