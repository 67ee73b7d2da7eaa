import { readFileSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import { JobError } from '../errors.ts';
import type { FileOpen, FileRecord, InputRecord } from '../integrity/file-state.ts';
import type { ImageEntry } from '../integrity/image-manifest.ts';

/**
 * The store's job id and name format (job-store.ts keeps its own copy, ID):
 * what a checkpoint, an archive or an import may name.
 */
export const JOB_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** The version of checkpoint.json this code writes; files without `format` are format 1. */
export const CHECKPOINT_FORMAT = 1;

/**
 * checkpoint.json: the one model of a checkpoint's metadata (the store's
 * `CheckpointRecord` is the same document). Fields marked optional are
 * absent in checkpoints of older cryopipe versions.
 */
export interface CheckpointMeta {
  /** Version of this document; written since format 1 became explicit, implied when absent. */
  format: 1;
  /** 1, 2, 3… in the order taken; also the checkpoint directory's name. */
  number: number;
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
  /** When the dump finished, ISO 8601. */
  takenAt: string;
  /** The job kept running after the dump (a live checkpoint). */
  leaveRunning: boolean;
  /** Host pid of the dumped root. */
  rootPid: number;
  /** Host pids of the dumped tree; a restore without a PID namespace needs them all free. */
  treePids?: number[];
  /** Version of the criu that wrote the images, e.g. 4.2.1. */
  criuVersion: string;
  /** Kernel release of the machine that took the checkpoint (uname -r). */
  kernel: string;
  /** Total size of the images, in bytes. */
  imageBytes: number;
  /** Milliseconds the tree was frozen, from CRIU's stats when available. */
  frozenMs?: number;
  /**
   * The part of frozenMs that was cryopipe's own work in criu's post-dump
   * hook (the tree's files and pids; for a stopping checkpoint also writing
   * this record), in milliseconds.
   */
  hookMs?: number;
  /** Wall-clock milliseconds of the whole dump request. */
  dumpMs: number;
  /** Every file the tree had open for writing: a restore checks, cuts back or moves them. */
  files: FileRecord[];
  /** Name, size and sha256 of every image file. */
  images?: ImageEntry[];
  /** Whether memory was pre-dumped while the job ran (images in pre/), and why. */
  preDump?: {
    /** A pre-dump ran before the final dump. */
    used: boolean;
    /** Why it was used or skipped, for display. */
    why: string;
  };
  /** A live checkpoint written to this fast directory first, then moved (taking moveMs). */
  stagedIn?: string;
  /** Time spent moving the images from the staging directory, in milliseconds; undefined when not staged. */
  moveMs?: number;
}

/**
 * Checks every field a restore, an export or an import acts on, so that a
 * hand-edited or forged checkpoint.json is refused rather than obeyed: paths
 * must be clean and absolute, image names plain relative names (they are
 * joined to the checkpoint directory), numbers whole. Fields added by newer
 * versions are kept as they are.
 */
export function parseCheckpointMeta(text: string, where = 'checkpoint.json'): CheckpointMeta {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw badMeta(where, 'it is not JSON');
  }
  if (!isObject(raw)) throw badMeta(where, 'it is not an object');
  const m = raw as Record<string, unknown>;
  const problems: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
  };
  check(
    m.format === undefined || m.format === CHECKPOINT_FORMAT,
    `unknown format ${String(m.format)}`,
  );
  check(isCount(m.number) && (m.number as number) > 0, 'number is not a positive integer');
  check(
    m.jobId === undefined || (typeof m.jobId === 'string' && JOB_ID.test(m.jobId)),
    'bad jobId',
  );
  check(m.jobDir === undefined || isCleanAbsolute(m.jobDir), 'jobDir is not a clean absolute path');
  check(typeof m.takenAt === 'string', 'takenAt is not a string');
  check(typeof m.leaveRunning === 'boolean', 'leaveRunning is not a boolean');
  check(isCount(m.rootPid), 'rootPid is not a pid');
  check(
    m.treePids === undefined || (Array.isArray(m.treePids) && m.treePids.every(isCount)),
    'bad treePids',
  );
  check(
    typeof m.criuVersion === 'string' && typeof m.kernel === 'string',
    'bad criuVersion or kernel',
  );
  for (const k of ['imageBytes', 'dumpMs'] as const) check(isNumber(m[k]), `${k} is not a number`);
  for (const k of ['frozenMs', 'hookMs', 'moveMs'] as const)
    check(m[k] === undefined || isNumber(m[k]), `${k} is not a number`);
  check(m.stagedIn === undefined || typeof m.stagedIn === 'string', 'stagedIn is not a string');
  if (!Array.isArray(m.files)) problems.push('files is not a list');
  else for (const [i, f] of m.files.entries()) fileProblems(f, `files[${i}]`, problems);
  if (m.images !== undefined) {
    if (!Array.isArray(m.images)) problems.push('images is not a list');
    else for (const [i, e] of m.images.entries()) imageProblems(e, `images[${i}]`, problems);
  }
  if (problems.length > 0) throw badMeta(where, problems.join('; '));
  return { ...(m as unknown as CheckpointMeta), format: CHECKPOINT_FORMAT };
}

/** Reads a checkpoint directory's metadata; a missing, torn or malformed file is an error that says so. */
export function readCheckpointMeta(dir: string): CheckpointMeta {
  const path = join(dir, 'checkpoint.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new JobError(
      `${path} can't be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      'REFUSED',
      'this checkpoint is incomplete; restore another one with --from N',
    );
  }
  return parseCheckpointMeta(text, path);
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

const HEX64 = /^[0-9a-f]{64}$/;

function badMeta(where: string, what: string): JobError {
  return new JobError(
    `${where} is malformed: ${what}`,
    'REFUSED',
    'this checkpoint was damaged or forged; restore another one with --from N',
  );
}

function fileProblems(f: unknown, at: string, problems: string[]): void {
  if (!isObject(f)) {
    problems.push(`${at} is not an object`);
    return;
  }
  const r = f as Partial<FileRecord>;
  if (!isCleanAbsolute(r.path)) problems.push(`${at}.path is not a clean absolute path`);
  if (!isCount(r.size)) problems.push(`${at}.size is not a byte count`);
  if (typeof r.tailSha256 !== 'string' || !HEX64.test(r.tailSha256))
    problems.push(`${at}.tailSha256 is not a sha256`);
  if (r.opens !== undefined && !(Array.isArray(r.opens) && r.opens.every(isOpen)))
    problems.push(`${at}.opens is malformed`);
}

function imageProblems(e: unknown, at: string, problems: string[]): void {
  const i = e as Partial<ImageEntry>;
  const parts = typeof i?.name === 'string' ? i.name.split('/') : [];
  if (
    parts.length === 0 ||
    parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0'))
  )
    problems.push(`${at}.name is not a plain relative name`);
  if (!isCount(i?.size)) problems.push(`${at}.size is not a byte count`);
  // Absent when hashing after the dump could not finish: such an image is
  // trusted only while its identity is unchanged (never after an import).
  if (i?.sha256 !== undefined && (typeof i.sha256 !== 'string' || !HEX64.test(i.sha256)))
    problems.push(`${at}.sha256 is not a sha256`);
}

function isOpen(o: unknown): o is FileOpen {
  const x = o as Partial<FileOpen>;
  return (
    isObject(o) &&
    isCount(x.pos) &&
    (x.access === 'write' || x.access === 'read-write') &&
    typeof x.append === 'boolean'
  );
}

function isObject(v: unknown): v is object {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

function isNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

/** Absolute, normalized, not `/` nor ending in one, no NUL: a path that means exactly what it says. */
export function isCleanAbsolute(p: unknown): p is string {
  return (
    typeof p === 'string' &&
    isAbsolute(p) &&
    normalize(p) === p &&
    !p.endsWith('/') &&
    !p.includes('\0')
  );
}
