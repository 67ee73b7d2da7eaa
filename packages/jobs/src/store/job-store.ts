import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JobError } from '../errors.ts';
import type { FileRecord } from '../integrity/file-state.ts';
import { cryopipeHome, isDirectory, mkdirPrivate } from './home.ts';

/** What a job is doing, as far as cryopipe's own actions go. Liveness is checked separately. */
export type JobPhase = 'running' | 'checkpointed' | 'finished';

export interface CheckpointRecord {
  /** 1, 2, 3… in the order taken. */
  number: number;
  takenAt: string;
  leaveRunning: boolean;
  /** Host pid of the dumped root. */
  rootPid: number;
  criuVersion: string;
  kernel: string;
  imageBytes: number;
  /** Milliseconds the tree was frozen, from CRIU's stats when available. */
  frozenMs?: number;
  /** Wall-clock milliseconds of the whole dump request. */
  dumpMs: number;
  files: FileRecord[];
}

/** Periodic live checkpoints: one every `everyMs`, keeping the newest `keep`. */
export interface JobSchedule {
  everyMs: number;
  keep?: number;
  /** Write images here first (e.g. /dev/shm), move them into the store once the job runs again. */
  stagingDir?: string;
}

export interface JobRecord {
  version: 1;
  id: string;
  name?: string;
  /** The pipeline as the user gave it, for display. */
  command: string;
  createdAt: string;
  cwd: string;
  pidNamespace: boolean;
  /** The file-mode mask the stages run with: the caller's at `run` (CRIU restores it with them). */
  umask?: number;
  phase: JobPhase;
  /** Host pid of the dump root in its current incarnation (changes on restore). */
  rootPid: number;
  /** The launcher's host pid at start (gone after a restore). */
  launcherPid?: number;
  /** `copyOf`: the restore started this job as a copy of that job's checkpoint `from`. */
  restores: { at: string; from: number; rootPid: number; ms: number; copyOf?: string }[];
  /** Set on a job made by `restore --as`: whose checkpoint it started from. */
  copyOf?: { job: string; checkpoint: number; outputs?: string[] };
  /** Periodic live checkpoints (`run --checkpoint-every`), restarted by `restore`. */
  schedule?: JobSchedule;
}

/** `jobs/ID/restore-logs/`: one directory per restore attempt, named `<epoch ms>-from-<N>`. */
export const RESTORE_LOGS_DIR = 'restore-logs';

/** A job named by its id or name, or a record read earlier (it is read again). */
export type JobRef = string | Pick<JobRecord, 'id'>;

const ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export class JobStore {
  readonly home: string;
  constructor(home: string = cryopipeHome()) {
    this.home = home;
  }

  get jobsDir(): string {
    return join(this.home, 'jobs');
  }
  jobDir(id: string): string {
    return join(this.jobsDir, id);
  }
  runDir(id: string): string {
    return join(this.jobDir(id), 'run');
  }
  logsDir(id: string): string {
    return join(this.jobDir(id), 'logs');
  }
  checkpointsDir(id: string): string {
    return join(this.jobDir(id), 'checkpoints');
  }
  checkpointDir(id: string, n: number): string {
    return join(this.checkpointsDir(id), String(n));
  }
  lockPath(id: string): string {
    return join(this.jobDir(id), 'lock');
  }

  /** Makes a fresh private job directory and returns its id. */
  create(name?: string): string {
    if (name !== undefined) {
      if (!ID.test(name)) {
        throw new JobError(
          `invalid job name '${name}': use lower-case letters, digits, '.', '_' and '-' (at most 64)`,
          'USAGE',
        );
      }
      if (this.findByName(name)) {
        throw new JobError(
          `a job named '${name}' already exists`,
          'USAGE',
          `remove it with 'cryopipe rm ${name}' or pick another --name`,
        );
      }
    }
    mkdirPrivate(this.jobsDir);
    for (;;) {
      const id = randomBytes(4).toString('hex');
      if (isDirectory(this.jobDir(id))) continue;
      mkdirPrivate(this.jobDir(id));
      mkdirPrivate(this.runDir(id));
      mkdirPrivate(this.logsDir(id));
      mkdirPrivate(this.checkpointsDir(id));
      return id;
    }
  }

  save(job: JobRecord): void {
    writeJsonAtomic(join(this.jobDir(job.id), 'job.json'), job);
  }

  load(id: string): JobRecord {
    const path = join(this.jobDir(id), 'job.json');
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as JobRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(id);
      throw new JobError(
        `job ${id} has an unreadable job.json (${(err as Error).message})`,
        'FAILED',
        `inspect or remove ${this.jobDir(id)}`,
      );
    }
  }

  /** Every job, oldest first. */
  list(): JobRecord[] {
    let ids: string[];
    try {
      ids = readdirSync(this.jobsDir);
    } catch {
      return [];
    }
    const jobs: JobRecord[] = [];
    for (const id of ids) {
      try {
        jobs.push(this.load(id));
      } catch {
        // A directory being created or removed right now: not a job yet.
      }
    }
    return jobs.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  private findByName(name: string): JobRecord | undefined {
    return this.list().find((j) => j.name === name);
  }

  /** Finds a job by id, unique id prefix, or name. */
  resolve(ref: JobRef): JobRecord {
    if (typeof ref !== 'string') return this.load(ref.id);
    const jobs = this.list();
    const exact = jobs.find((j) => j.id === ref || j.name === ref);
    if (exact) return exact;
    const byPrefix = jobs.filter((j) => j.id.startsWith(ref));
    if (byPrefix.length === 1) return byPrefix[0]!;
    if (byPrefix.length > 1) {
      throw new JobError(
        `'${ref}' matches several jobs: ${byPrefix.map((j) => j.id).join(', ')}`,
        'USAGE',
        'give more of the id',
      );
    }
    throw notFound(ref);
  }

  remove(id: string): void {
    rmSync(this.jobDir(id), { recursive: true, force: true });
  }

  checkpoints(id: string): CheckpointRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.checkpointsDir(id));
    } catch {
      return [];
    }
    const out: CheckpointRecord[] = [];
    // Only complete checkpoints have a plain number as name; partial ones are .tmp-*.
    for (const name of names.filter((n) => /^\d+$/.test(n))) {
      try {
        out.push(
          JSON.parse(readFileSync(join(this.checkpointsDir(id), name, 'checkpoint.json'), 'utf8')),
        );
      } catch {
        // A checkpoint without metadata is incomplete: never offered for restore.
      }
    }
    return out.sort((a, b) => a.number - b.number);
  }
}

function notFound(ref: string): JobError {
  return new JobError(`no job '${ref}'`, 'NOT_FOUND', "list jobs with 'cryopipe ps'");
}

/** Replaces a file atomically so a crash leaves either the old or the new content. */
export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}
