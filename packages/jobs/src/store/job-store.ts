import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { type CheckpointMeta, JOB_ID } from '../checkpoint/checkpoint-meta.ts';
import { JobError } from '../errors.ts';
import {
  assertPrivateHome,
  cryopipeHome,
  isDirectory,
  mkdirPrivate,
  realPathOf,
  unsafeDirectoryReason,
} from './home.ts';

/** What a job is doing, as far as cryopipe's own actions go. Liveness is checked separately. */
export type JobPhase = 'running' | 'checkpointed' | 'finished' | 'migrated';

/** A checkpoint's metadata (checkpoint.json): one model, defined with its parser. */
export type CheckpointRecord = CheckpointMeta;

/** Periodic live checkpoints: one every `everyMs`, keeping the newest `keep`. */
export interface JobSchedule {
  /** Interval between checkpoints, in milliseconds. */
  everyMs: number;
  /** How many periodic checkpoints to keep (oldest removed first); undefined: the default. */
  keep?: number;
  /** Write images here first (e.g. /dev/shm), move them into the store once the job runs again. */
  stagingDir?: string;
}

/** A job as stored in jobs/ID/job.json. */
export interface JobRecord {
  /** Format version of job.json. */
  version: 1;
  /** The job's id (its directory name under jobs/). */
  id: string;
  /** The name given at start; undefined for unnamed jobs. */
  name?: string;
  /** The pipeline as the user gave it, for display. */
  command: string;
  /** When the job was started, ISO 8601. */
  createdAt: string;
  /** Working directory of the pipeline. */
  cwd: string;
  /** The stages run in their own PID namespace. */
  pidNamespace: boolean;
  /** The file-mode mask the stages run with: the caller's at `run` (CRIU restores it with them). */
  umask?: number;
  /** What cryopipe last did with the job. */
  phase: JobPhase;
  /** Host pid of the dump root in its current incarnation (changes on restore). */
  rootPid: number;
  /** The launcher's host pid at start (gone after a restore). */
  launcherPid?: number;
  /** `copyOf`: the restore started this job as a copy of that job's checkpoint `from`. */
  restores: {
    /** When the restore happened, ISO 8601. */
    at: string;
    /** The checkpoint number restored. */
    from: number;
    /** Host pid of the restored dump root. */
    rootPid: number;
    /** How long the restore took, in milliseconds. */
    ms: number;
    /** The job whose checkpoint this job was started from, when it is a copy. */
    copyOf?: string;
  }[];
  /** Set on a job made by `restore --as`: whose checkpoint it started from. */
  copyOf?: {
    /** Id of the original job. */
    job: string;
    /** The original's checkpoint number the copy started from. */
    checkpoint: number;
    /** Output files redirected for the copy (absolute paths); undefined when none. */
    outputs?: string[];
  };
  /** Periodic live checkpoints (`run --checkpoint-every`), restarted by `restore`. */
  schedule?: JobSchedule;
  /** Set by `migrate` once the job runs on another machine (phase 'migrated'). */
  migratedTo?: {
    /** The destination as given to `migrate` (`user@host`). */
    dest: string;
    /** The job's id there. */
    id: string;
    /** When the destination acknowledged the restore, ISO 8601. */
    at: string;
  };
}

/** `jobs/ID/restore-logs/`: one directory per restore attempt, named `<epoch ms>-from-<N>`. */
export const RESTORE_LOGS_DIR = 'restore-logs';

/** A job named by its id or name, or a record read earlier (it is read again). */
export type JobRef = string | Pick<JobRecord, 'id'>;

/**
 * A job directory whose name claim exists but which never got its job.json
 * this long after it was made belongs to a `run` that died while starting.
 */
const ABANDONED_MS = 10 * 60_000;

/** The jobs under one cryopipe home: paths, records, checkpoints and name claims. */
export class JobStore {
  /** The home's real path (symlinks resolved once, when the store is made). */
  readonly home: string;
  #jobsDir: string | undefined;
  constructor(home: string = cryopipeHome()) {
    this.home = realPathOf(home);
  }

  /** `HOME/jobs`, by its real path once it exists (it may be a symlink to elsewhere). */
  get jobsDir(): string {
    if (this.#jobsDir) return this.#jobsDir;
    const path = join(this.home, 'jobs');
    try {
      this.#jobsDir = realpathSync(path);
      return this.#jobsDir;
    } catch {
      return path; // not made yet
    }
  }
  /** `HOME/names/NAME/ID`: the atomic claim of a job name (see claimName). */
  get namesDir(): string {
    return join(this.home, 'names');
  }
  /** Directory of job `id`: job.json, run/, logs/, checkpoints/. */
  jobDir(id: string): string {
    return join(this.jobsDir, id);
  }
  /** The launcher's run directory of job `id` (status file, stdout). */
  runDir(id: string): string {
    return join(this.jobDir(id), 'run');
  }
  /** Directory of job `id`'s stage logs. */
  logsDir(id: string): string {
    return join(this.jobDir(id), 'logs');
  }
  /** Directory holding job `id`'s numbered checkpoints. */
  checkpointsDir(id: string): string {
    return join(this.jobDir(id), 'checkpoints');
  }
  /** Directory of checkpoint `n` (1-based) of job `id`. */
  checkpointDir(id: string, n: number): string {
    return join(this.checkpointsDir(id), String(n));
  }
  /** Path of job `id`'s lock file (see acquireLock). */
  lockPath(id: string): string {
    return join(this.jobDir(id), 'lock');
  }

  /**
   * Makes a fresh private job directory and returns its id; with a name, also
   * claims the name atomically, so that of racing creators exactly one gets
   * it. Refuses (before anything is made in it) a home or jobs/ directory
   * that another user owns or that group or others can write.
   */
  create(name?: string): string {
    if (name !== undefined) {
      if (!JOB_ID.test(name)) {
        throw new JobError(
          `invalid job name '${name}': use lower-case letters, digits, '.', '_' and '-' (at most 64)`,
          'USAGE',
        );
      }
      // A job of an older cryopipe has its name only in job.json.
      if (this.findByName(name)) throw nameTaken(name);
    }
    this.assertPrivate();
    for (;;) {
      const id = randomBytes(4).toString('hex');
      if (isDirectory(this.jobDir(id))) continue;
      mkdirPrivate(this.jobDir(id));
      try {
        if (name !== undefined) this.claimName(name, id);
        mkdirPrivate(this.runDir(id));
        mkdirPrivate(this.logsDir(id));
        mkdirPrivate(this.checkpointsDir(id));
      } catch (err) {
        rmSync(this.jobDir(id), { recursive: true, force: true });
        throw err;
      }
      return id;
    }
  }

  /** Creates the home and jobs/ if needed and refuses them if anyone but us (or root) could change them. */
  assertPrivate(): void {
    if (!isDirectory(this.home)) mkdirPrivate(this.home);
    assertPrivateHome(this.home, 'the cryopipe home');
    if (!isDirectory(this.jobsDir)) mkdirPrivate(this.jobsDir);
    assertPrivateHome(this.jobsDir, 'the jobs directory');
  }

  /** Why `run` would refuse the home or jobs/ as they are now, or undefined; creates nothing. */
  homeProblem(): string | undefined {
    for (const [path, what] of [
      [this.home, 'the cryopipe home'],
      [this.jobsDir, 'the jobs directory'],
    ] as const) {
      if (!isDirectory(path)) continue;
      const reason = unsafeDirectoryReason(path, true);
      if (reason) return `${what} ${path} ${reason}`;
    }
    return undefined;
  }

  /**
   * Claims `name` for job `id`. A claim is a directory `names/NAME` holding
   * one entry named after the job id. It is prepared under a private name and
   * renamed into place: rename(2) onto an existing non-empty directory fails,
   * so only one creator wins. A claim whose job is gone (removed by hand, or
   * a `run` that died starting) is released by deleting its id entry — a name
   * no later claim can have — and the now empty directory is taken over by
   * the same rename, which replaces an empty directory atomically.
   */
  private claimName(name: string, id: string): void {
    mkdirPrivate(this.namesDir);
    const claim = join(this.namesDir, name);
    const fresh = join(this.namesDir, `.new-${id}`);
    mkdirSync(fresh, { mode: 0o700 });
    writeFileSync(join(fresh, id), '', { mode: 0o600 });
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          renameSync(fresh, claim);
          return;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        }
        // No holder: a stale claim was just released by someone else; try again.
        const holder = this.claimHolder(name);
        if (attempt > 20 || (holder !== undefined && !this.releaseStaleClaim(name, holder)))
          throw nameTaken(name);
      }
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  }

  /** The job id that holds the claim on `name`, if any. */
  private claimHolder(name: string): string | undefined {
    try {
      return readdirSync(join(this.namesDir, name))[0];
    } catch {
      return undefined;
    }
  }

  /** Deletes the claim of a job that is gone; true when the name may be free now. */
  private releaseStaleClaim(name: string, holder: string): boolean {
    const dir = this.jobDir(holder);
    let stale = !existsSync(dir);
    if (!stale && !existsSync(join(dir, 'job.json'))) {
      try {
        stale = Date.now() - statSync(dir).mtimeMs > ABANDONED_MS;
      } catch {
        stale = true;
      }
    }
    if (!stale) return false;
    // Only this holder's entry: if another claim replaced the directory meanwhile, nothing happens.
    rmSync(join(this.namesDir, name, holder), { force: true });
    return true;
  }

  /** Gives up `id`'s name claims (every name directory holding its entry). */
  private releaseNames(id: string): void {
    let names: string[];
    try {
      names = readdirSync(this.namesDir);
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith('.') || !existsSync(join(this.namesDir, name, id))) continue;
      rmSync(join(this.namesDir, name, id), { force: true });
      try {
        rmdirSync(join(this.namesDir, name)); // fails harmlessly if someone claimed it meanwhile
      } catch {}
    }
  }

  /** Writes the job's job.json atomically. */
  save(job: JobRecord): void {
    writeJsonAtomic(join(this.jobDir(job.id), 'job.json'), job);
  }

  /** Reads job.json of job `id`; a NOT_FOUND JobError when there is none. */
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
    // ISO 8601 times sort as strings; localeCompare's first call loads ICU's collator (45 ms measured here under load).
    return jobs.sort((a, b) =>
      a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0,
    );
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

  /** Deletes a job directory, then gives its name back. */
  remove(id: string): void {
    rmSync(this.jobDir(id), { recursive: true, force: true });
    this.releaseNames(id);
  }

  /** The job's checkpoints with their metadata, oldest first. */
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

function nameTaken(name: string): JobError {
  return new JobError(
    `a job named '${name}' already exists`,
    'USAGE',
    `remove it with 'cryopipe rm ${name}' or pick another --name`,
  );
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
