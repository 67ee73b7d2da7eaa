import { copyFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RestoreResult } from '@cryopipe/criu-client';
import { isAdopted, restoreUnderKeeper } from '../adopt/adopted-job.ts';
import { importedOutputMoves, readImportRecord } from '../archive/imported-job.ts';
import { checkpointNumbers } from '../checkpoint/checkpoint-files.ts';
import {
  assertCheckpointOf,
  type CheckpointMeta,
  readCheckpointMeta,
} from '../checkpoint/checkpoint-meta.ts';
import { JobError } from '../errors.ts';
import { faultPoint } from '../fault-point.ts';
import { type FileCheck, reconcileFiles } from '../integrity/file-state.ts';
import { type Verification, verifyImages } from '../integrity/image-manifest.ts';
import { assertImagesPrivate } from '../integrity/image-safety.ts';
import { describeCriuError, openCriu, requireRoot } from '../machine/criu.ts';
import { machineId } from '../machine/machine-id.ts';
import { noMeter, noProgress, type Progress, type ProgressMeter } from '../progress.ts';
import { mkdirPrivate } from '../store/home.ts';
import {
  type JobRecord,
  type JobRef,
  type JobStore,
  RESTORE_LOGS_DIR,
} from '../store/job-store.ts';
import { jobProcesses } from '../store/live-root.ts';
import { liveRoot } from '../store/liveness.ts';
import { acquireLock } from '../store/lock.ts';
import { waitForFreePids } from './pids.ts';
import {
  copyCheckpointedBytes,
  type InheritedFds,
  isWithin,
  type Move,
  openMoves,
  planRelocation,
  relocatedPath,
} from './relocation.ts';

/** Options of `restoreJob()`. */
export interface RestoreOptions {
  /** The checkpoint to restore; the newest when absent. */
  from?: number;
  /**
   * Restore a copy: a new job with this name (or a generated id when ''),
   * with its own run directory, logs and outputs, while the original job
   * stays as it is — running, or restorable again.
   */
  as?: string;
  /** For a copy: where the outputs outside the job directory go (default: the copy's outputs/). */
  outputDir?: string;
  /** How long a job without a PID namespace waits for its old pids to be free (default 5 s). */
  pidWaitMs?: number;
  /** How long to wait for another operation on the job to finish; 0 (default) fails at once. */
  lockWaitMs?: number;
  /** Hash every image's content even when their identities say they are unchanged. */
  verify?: boolean;
  /** Receives one line per step of long work. */
  onProgress?: Progress;
  /** Receives the bytes of images checked so far. */
  onBytes?: ProgressMeter;
}

/** What `restoreJob()` did. */
export interface RestoreOutcome {
  /** The restored job: the copy's id when restoring a copy. */
  id: string;
  /** The job whose checkpoint was restored, when it is not `id`. */
  copyOf?: string;
  /** The checkpoint number restored. */
  from: number;
  /** Host pid of the restored dump root. */
  rootPid: number;
  /** How long the restore took, in milliseconds. */
  ms: number;
  /** What was checked or done for each recorded file. */
  files: FileCheck[];
  /** Files the restored tree finds at another path than in the images. */
  moved: {
    /** The path recorded at the checkpoint. */
    from: string;
    /** Where the file is for this restore. */
    to: string;
  }[];
  /** criu's restore statistics; undefined when criu wrote none. */
  stats: RestoreResult['stats'];
  /**
   * How the images were proved intact: 'identity' (each image is the very
   * file whose content was hashed at the checkpoint, unchanged since: a stat
   * each) or 'content' (every image re-hashed: after an import, a changed
   * identity, or `verify`).
   */
  verified: Verification;
}

/**
 * Brings a job back from a checkpoint, or starts a copy of it. Everything
 * that can be checked is checked before criu runs, so a refusal changes
 * nothing: the images must be private, this job's, and exactly as written;
 * every recorded output must still hold its checkpointed bytes (one that
 * only grew is cut back). Files that now live elsewhere — the copy's own
 * run directory, logs and outputs, or a job imported into another home —
 * are handed to criu opened (inherit-fd) instead of by their old path.
 */
export async function restoreJob(
  store: JobStore,
  ref: JobRef,
  options: RestoreOptions = {},
): Promise<RestoreOutcome> {
  requireRoot('restore');
  const job = store.resolve(ref);
  const progress = options.onProgress ?? noProgress;
  const copying = options.as !== undefined;
  const release = await acquireLock(store.lockPath(job.id), copying ? 'copy' : 'restore', {
    waitMs: options.lockWaitMs ?? 0,
  });
  let copy: JobRecord | undefined;
  let restored = false;
  const created: string[] = []; // a copy's output files, removed again if it fails
  try {
    const fresh = store.load(job.id); // a restore that just finished changed the root pid
    if (copying) assertCopyable(fresh);
    else assertNotRunning(store, fresh);
    const { number, imagesDir, cp, verified } = await verifiedCheckpoint(
      store,
      fresh,
      options.from,
      Boolean(options.verify),
      progress,
      options.onBytes ?? noMeter,
    );
    faultPoint('restore:verified');
    if (copying && cp.jobDir === undefined) {
      // Its launcher predates RUN_DIR_FD and writes its status by path.
      throw new JobError(
        `checkpoint ${number} of job ${fresh.id} was taken by an older cryopipe, whose launcher writes into its run directory by path: a copy would write into the original's files`,
        'REFUSED',
        `restore it in place ('cryopipe restore ${fresh.id} --from ${number}'), then take a new checkpoint to copy`,
      );
    }

    if (copying) copy = createCopy(store, fresh, options.as!, number);
    const target = copy ?? fresh;
    const fromJobDir = cp.jobDir ?? store.jobDir(fresh.id);
    const moves = planRelocation({
      files: cp.files,
      fromJobDir,
      toJobDir: store.jobDir(target.id),
      ...(copying
        ? { outputDir: options.outputDir ?? join(store.jobDir(target.id), 'outputs') }
        : {}),
    });
    // An imported job whose outputs were not put at their recorded paths.
    const imported = importedOutputMoves(store.jobDir(fresh.id), cp.files);
    if (!copying) moves.push(...imported);
    const importedAt = new Map(imported.map((m) => [m.from, m.to]));
    if (copy) {
      // Where its outputs are, for `ps` until the copy has checkpoints of its own.
      const outputs = moves
        .filter((m) => m.record && !isWithin(m.from, fromJobDir))
        .map((m) => m.to);
      copy = { ...copy, copyOf: { ...copy.copyOf!, outputs } };
      store.save(copy);
      // The copy starts from the original's files as they were at the checkpoint.
      for (const move of moves) {
        if (!move.record) continue;
        const current =
          importedAt.get(move.from) ?? relocatedPath(move.from, fromJobDir, store.jobDir(fresh.id));
        if (move.record.size > 0)
          progress(
            `copying the checkpointed ${move.record.size} bytes of ${current} to ${move.to}…`,
          );
        await copyCheckpointedBytes(current, move.to, move.record.size);
        created.push(move.to);
      }
      copyRunFiles(store.runDir(fresh.id), store.runDir(copy.id));
    }
    const movedTo = new Map(moves.map((m) => [m.from, m.to]));
    // Inodes identify a file only where the checkpoint was taken, and only
    // for files that were not written anew (a copy's outputs, an import's).
    const relocated = new Set(movedTo.values());
    const sameMachine = cp.machineId !== undefined && cp.machineId === machineId();
    const wasImported = readImportRecord(store.jobDir(fresh.id)) !== undefined;
    const files = reconcileFiles(
      cp.files.map((f) => ({ ...f, path: movedTo.get(f.path) ?? f.path })),
      {
        sameFile: (path) => sameMachine && !wasImported && !relocated.has(path),
        inputs: cp.inputs ?? [],
      },
    );
    for (const c of files)
      if (c.action === 'truncate')
        progress(`${c.path}: cut back from ${c.from} to ${c.to} bytes (its checkpointed size)`);

    if (!fresh.pidNamespace) {
      // Plain mode restores the old PIDs; the dead tree's may still be taken for a moment.
      await waitForFreePids(cp.treePids ?? [cp.rootPid], options.pidWaitMs ?? 5000);
    }
    const { result, ms } = await runRestore(
      store,
      fresh,
      target,
      number,
      imagesDir,
      moves,
      progress,
    );
    restored = true;
    faultPoint('restore:criu-returned');
    const latest = store.load(target.id);
    store.save({
      ...latest,
      phase: 'running',
      rootPid: result.pid,
      restores: [
        ...latest.restores,
        {
          at: new Date().toISOString(),
          from: number,
          rootPid: result.pid,
          ms,
          ...(copy ? { copyOf: fresh.id } : {}),
        },
      ],
    });
    faultPoint('restore:finalizing');
    return {
      id: target.id,
      ...(copy ? { copyOf: fresh.id } : {}),
      from: number,
      rootPid: result.pid,
      ms,
      files,
      moved: moves.map(({ from, to }) => ({ from, to })),
      stats: result.stats,
      verified,
    };
  } finally {
    if (copy && !restored) {
      // A copy that never ran leaves nothing behind; the original is untouched either way.
      for (const path of created) rmSync(path, { force: true });
      store.remove(copy.id);
    }
    release();
  }
}

async function runRestore(
  store: JobStore,
  source: JobRecord,
  target: JobRecord,
  number: number,
  imagesDir: string,
  moves: readonly Move[],
  progress: Progress,
): Promise<{ result: RestoreResult; ms: number }> {
  const workDir = mkdirPrivate(
    join(store.jobDir(target.id), RESTORE_LOGS_DIR, `${Date.now()}-from-${number}`),
  );
  if (isAdopted(source) && moves.length > 0) {
    // Its keeper runs criu itself and can't hand it moved files.
    throw new JobError(
      `job ${source.id} was adopted, and an adopted job can only be restored where its files were (${moves[0]!.from})`,
      'REFUSED',
      `import it under CRYOPIPE_HOME=${dirname(dirname(dirname(moves.at(-1)!.from)))}`,
    );
  }
  let fds: InheritedFds | undefined;
  const criu = openCriu(store.home);
  const what = target === source ? `job ${source.id}` : `job ${target.id} (a copy of ${source.id})`;
  progress(`restoring ${what} from checkpoint ${number}…`);
  const started = performance.now();
  try {
    fds = openMoves(moves);
    // An adopted job is a shell job: it comes back under a new keeper's terminal.
    const result = isAdopted(source)
      ? { pid: await restoreUnderKeeper(store, source, imagesDir) }
      : await criu.restore(
          {
            imagesDir,
            workDir,
            logFile: 'restore.log',
            // Without it criu silently drops file locks a checkpoint saved; with none saved it does nothing.
            fileLocks: true,
            ...(fds.inheritFd.length ? { inheritFd: fds.inheritFd } : {}),
          },
          // Hooks turn on criu's notify round trips (six per restore, each
          // waking this process); only the fault matrix needs one.
          process.env.CRYOPIPE_FAULT_POINT === 'restore:criu-running'
            ? { postResume: () => faultPoint('restore:criu-running') }
            : undefined,
        );
    return { result, ms: performance.now() - started };
  } catch (err) {
    if (JobError.is(err)) throw err;
    throw new JobError(
      `restore of ${what} from checkpoint ${number} failed: ${describeCriuError(err)}\nThe images are intact.`,
      'FAILED',
      `criu's log: ${join(workDir, 'restore.log')}`,
      { cause: err },
    );
  } finally {
    fds?.close();
    await criu.close();
  }
}

/**
 * The checkpoint to restore (the newest unless `from`), checked before
 * anything changes: private images, this job's, exactly as written.
 */
async function verifiedCheckpoint(
  store: JobStore,
  job: JobRecord,
  from: number | undefined,
  verify: boolean,
  progress: Progress,
  meter: ProgressMeter,
): Promise<{ number: number; imagesDir: string; cp: CheckpointMeta; verified: Verification }> {
  // By directory name, not by what each checkpoint.json says: a directory
  // copied in from elsewhere must not pass for another checkpoint.
  const numbers = checkpointNumbers(store.checkpointsDir(job.id));
  if (numbers.length === 0) {
    throw new JobError(
      `job ${job.id} has no complete checkpoint`,
      'NOT_FOUND',
      `take one with 'cryopipe checkpoint ${job.id}' while it runs`,
    );
  }
  const number = from ?? numbers.at(-1)!;
  if (!numbers.includes(number)) {
    throw new JobError(
      `job ${job.id} has no checkpoint ${number}`,
      'NOT_FOUND',
      `it has: ${numbers.join(', ')}`,
    );
  }
  const imagesDir = store.checkpointDir(job.id, number);
  assertImagesPrivate(imagesDir, store.home);
  const cp = readCheckpointMeta(imagesDir);
  assertCheckpointOf(cp, job.id, number, imagesDir);
  // Unchanged identities prove the images are the files hashed at the
  // checkpoint; an imported checkpoint (new inodes anyway) or --verify reads
  // every byte again.
  const importRecord = readImportRecord(store.jobDir(job.id));
  const imported = importRecord !== undefined && importRecord.migratedFrom === undefined;
  progress(`checking the images of checkpoint ${number}…`);
  // Hashing, when it happens, runs in one call: the meter gets its start and its end.
  const totalBytes = cp.images!.reduce((sum, image) => sum + image.size, 0);
  meter({ step: 'checking images', bytes: 0, totalBytes });
  const verified = await verifyImages(imagesDir, cp.images!, { content: verify || imported });
  meter({ step: 'checking images', bytes: totalBytes, totalBytes, done: true });
  if (verified === 'content')
    progress(`checked the content of every image of checkpoint ${number}`);
  return { number, imagesDir, cp, verified };
}

/**
 * Only a job in its own PID namespace can run twice: a copy gets new pids
 * there, while a plain-mode or adopted tree needs its old pids back.
 */
function assertCopyable(job: JobRecord): void {
  if (isAdopted(job) || !job.pidNamespace) {
    throw new JobError(
      `job ${job.id} runs without a PID namespace${isAdopted(job) ? ' (it was adopted)' : ''}, so a copy would need the pids the original has`,
      'REFUSED',
      `restore it in place instead: 'cryopipe restore ${job.id}'`,
    );
  }
}

/** A new job record for a copy of `source`'s checkpoint `number`, not running yet. */
function createCopy(store: JobStore, source: JobRecord, name: string, number: number): JobRecord {
  const id = store.create(name === '' ? undefined : name);
  // Periodic checkpoints (schedule) carry over: a copy is as precious as the original.
  const { name: _sourceName, launcherPid: _launcherPid, ...rest } = source;
  const copy: JobRecord = {
    ...rest,
    id,
    ...(name ? { name } : {}),
    createdAt: new Date().toISOString(),
    phase: 'checkpointed',
    rootPid: 0,
    restores: [],
    copyOf: { job: source.id, checkpoint: number },
  };
  store.save(copy);
  return copy;
}

/** The run directory's spec and last status, for `ps` and `logs` until the copy writes its own. */
function copyRunFiles(fromRunDir: string, toRunDir: string): void {
  for (const name of ['spec', 'status']) {
    try {
      copyFileSync(join(fromRunDir, name), join(toRunDir, name));
    } catch {
      // Not there (an imported job without a status yet): the copy writes its own.
    }
  }
}

/**
 * Restoring a job that runs would run it twice. Whether it runs is asked of
 * the live system, not of job.json: a restore killed after criu brought the
 * tree back never recorded it (its record is healed here, under the lock),
 * and stages can outlive a dead launcher in plain mode.
 */
function assertNotRunning(store: JobStore, job: JobRecord): void {
  const pid = liveRoot(store, job);
  if (pid !== undefined && (pid !== job.rootPid || job.phase !== 'running'))
    store.save({ ...job, phase: 'running', rootPid: pid });
  const others = pid === undefined ? jobProcesses(store.jobDir(job.id)) : [];
  if (pid === undefined && others.length === 0) return;
  throw new JobError(
    pid !== undefined
      ? `job ${job.id} is running (pid ${pid}): restoring it again would run it twice`
      : `processes of job ${job.id} are still alive (pids ${others.join(', ')}): restoring it now would run it twice`,
    'FAILED',
    pid !== undefined
      ? `stop it first with 'cryopipe kill ${job.id}', checkpoint it, or start a copy with --as NAME`
      : 'wait for them to end, or end them, then restore',
  );
}
