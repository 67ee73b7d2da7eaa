import { cpSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { release as kernelRelease } from 'node:os';
import { join } from 'node:path';
import { type CriuClient, type DumpResult, readStats } from '@cryopipe/criu-client';
import { adoptedTreeRoot, isAdopted, SOLVED_BY_SHELL_JOB } from '../adopt/adopted-job.ts';
import { blockingFindings, diagnoseTree, formatFindings } from '../diagnose/diagnosis.ts';
import { JobError } from '../errors.ts';
import { faultPoint } from '../fault-point.ts';
import type { FileRecord, InputRecord } from '../integrity/file-state.ts';
import { imageIdentities } from '../integrity/image-manifest.ts';
import { PRE_DUMP_DIR, restrictToOwner } from '../integrity/image-safety.ts';
import { startSealer } from '../integrity/seal.ts';
import { describeCriuError, openCriu, requireRoot } from '../machine/criu.ts';
import { criuTracksMemory, criuVersion } from '../machine/machine-facts.ts';
import { machineId } from '../machine/machine-id.ts';
import {
  meterDirectory,
  noMeter,
  noProgress,
  type Progress,
  type ProgressMeter,
} from '../progress.ts';
import { removeDeadStagingSets } from '../schedule/staging.ts';
import { mkdirPrivate } from '../store/home.ts';
import type { JobRecord, JobRef, JobStore } from '../store/job-store.ts';
import { writeJsonAtomic } from '../store/job-store.ts';
import { realRunDir, servesRunDir } from '../store/live-root.ts';
import { liveRoot } from '../store/liveness.ts';
import { acquireLock } from '../store/lock.ts';
import { processExists } from '../store/process-exists.ts';
import { directoryBytes, nextCheckpointNumber } from './checkpoint-files.ts';
import { CHECKPOINT_FORMAT, type CheckpointMeta, readCheckpointMeta } from './checkpoint-meta.ts';
import { resumeStoppedTree } from './stopped-tree.ts';
import { recordTreeFiles } from './tree-files.ts';

/** When to pre-dump memory while the job runs, so that the freeze only writes what changed since. */
export type PreDumpMode = 'auto' | 'never' | 'always';

/** Options of `checkpointJob()`. */
export interface CheckpointOptions {
  /** Keep the job running after the dump (a live checkpoint). */
  leaveRunning?: boolean;
  /**
   * 'auto' (default): pre-dump when criu's feature check says the kernel can
   * track dirty memory; 'always': even when it says not (criu then fails and
   * the job keeps running); 'never'.
   */
  preDump?: PreDumpMode;
  /**
   * Live checkpoints only: write the images to a private directory under
   * this fast local directory (a tmpfs such as /dev/shm), and move them into
   * the job store after the job has resumed, so slow storage does not add
   * to the time the job is frozen.
   */
  stagingDir?: string;
  /** How long to wait for another operation on the job to finish; 0 (default) fails at once. */
  lockWaitMs?: number;
  /** Receives one line per step of long work. */
  onProgress?: Progress;
  /** Receives the bytes of images written so far while criu writes them. */
  onBytes?: ProgressMeter;
  /**
   * Leave the tree stopped (SIGSTOP) after the dump instead of killing it:
   * the caller then kills it or resumes it (`resumeStoppedTree`). Used by
   * `migrateJob`, which resumes the job when the move fails.
   */
  leaveStopped?: boolean;
  /**
   * Send the memory pages to this criu page server instead of the images
   * directory: the checkpoint then holds only the small images, and can't
   * be restored here. Used by `migrateJob`.
   */
  pageServer?: {
    /** Address the page server listens on (for migrate: 127.0.0.1, an ssh port forward). */
    address: string;
    /** Its TCP port. */
    port: number;
  };
  /** Called right before criu freezes the tree (for callers that time the downtime). */
  onFreezing?: () => void;
}

/** What `checkpointJob()` made. */
export interface CheckpointOutcome {
  /** Id of the checkpointed job. */
  id: string;
  /** The new checkpoint's metadata, as written to checkpoint.json. */
  record: CheckpointMeta;
  /** criu's dump statistics, when it wrote them. */
  stats: DumpResult['stats'];
}

/**
 * Dumps a running job into checkpoint N: images go to a private temporary
 * directory that becomes `checkpoints/N` only once complete (images, file
 * records, manifest). Whatever fails — the diagnosis, criu, a full disk,
 * criu being killed — the temporary directory is removed, earlier
 * checkpoints are untouched and a tree criu left stopped is resumed.
 */
export async function checkpointJob(
  store: JobStore,
  ref: JobRef,
  options: CheckpointOptions = {},
): Promise<CheckpointOutcome> {
  requireRoot('checkpoint');
  const job = store.resolve(ref);
  const progress = options.onProgress ?? noProgress;
  const leaveRunning = Boolean(options.leaveRunning);
  if (options.stagingDir !== undefined && !leaveRunning) {
    throw new JobError(
      'a staging directory only works for live checkpoints (--leave-running)',
      'USAGE',
      'a stopping checkpoint must be on disk in the job store before the job is stopped',
    );
  }
  const release = await acquireLock(store.lockPath(job.id), 'checkpoint', {
    waitMs: options.lockWaitMs ?? 0,
  });
  let tmp: string | undefined;
  let staging: string | undefined;
  try {
    // Read again under the lock, and ask the live system where the tree is:
    // a restore that just finished, or one that was killed before it could
    // record it, changed the root pid.
    let fresh = store.load(job.id);
    const livePid = liveRoot(store, fresh);
    if (livePid === undefined) {
      throw new JobError(
        `job ${fresh.id} is not running, so there is nothing to checkpoint`,
        'FAILED',
        `see 'cryopipe ps'`,
      );
    }
    if (livePid !== fresh.rootPid) {
      fresh = { ...fresh, phase: 'running', rootPid: livePid };
      store.save(fresh);
    }
    removeAbandonedDumps(store.checkpointsDir(fresh.id));
    if (options.stagingDir !== undefined) removeDeadStagingSets(options.stagingDir);
    // An adopted job: the tree below the keeper is dumped, as a shell job.
    const adopted = isAdopted(fresh);
    const dumpPid = adopted ? adoptedTreeRoot(store, fresh) : fresh.rootPid;
    const findings = await diagnoseTree(dumpPid);
    const blocking = blockingFindings(findings).filter(
      (f) => !adopted || !SOLVED_BY_SHELL_JOB.has(f.id),
    );
    if (blocking.length > 0) {
      throw new JobError(
        `job ${fresh.id} can't be checkpointed as it is:\n${formatFindings(blocking)}`,
        'REFUSED',
        `see 'cryopipe diagnose ${dumpPid}' for details`,
      );
    }
    // Locks the tree holds on its own files: criu saves them only when told to.
    const fileLocks = findings.some((f) => f.id === 'file-locks');
    faultPoint('checkpoint:verified');
    const number = nextCheckpointNumber(store.checkpointsDir(fresh.id));
    tmp = mkdirPrivate(join(store.checkpointsDir(fresh.id), `.tmp-${number}-${process.pid}`));
    const dir = tmp;
    const target = store.checkpointDir(fresh.id, number);
    if (options.stagingDir !== undefined) {
      staging = mkdirPrivate(
        join(options.stagingDir, `cryopipe-${fresh.id}-${number}-${process.pid}`),
      );
    }
    // Writes the images' metadata and moves them into place. Without
    // --leave-running it runs inside criu's post-dump hook, before criu kills
    // the tree: if it fails (a full disk), criu resumes the job instead. It
    // records each image's identity only (a stat each); the content hashes
    // come once criu is done with the tree, so no hashing adds frozen time.
    const finalize = (
      d: Omit<Dumped, 'stats' | 'ms' | 'preDump' | 'hookMs'>,
      ms: number,
    ): CheckpointMeta => {
      try {
        restrictToOwner(dir);
        const record: CheckpointMeta = {
          format: CHECKPOINT_FORMAT,
          number,
          jobId: fresh.id,
          jobDir: store.jobDir(fresh.id),
          takenAt: new Date().toISOString(),
          leaveRunning,
          rootPid: dumpPid,
          ...(d.treePids ? { treePids: d.treePids } : {}),
          criuVersion: d.version,
          kernel: kernelRelease(),
          imageBytes: directoryBytes(dir),
          dumpMs: ms,
          files: d.files,
          inputs: d.inputs,
          ...(machineId() ? { machineId: machineId() } : {}),
          images: imageIdentities(dir),
        };
        writeJsonAtomic(join(dir, 'checkpoint.json'), record);
        readCheckpointMeta(dir); // proves the metadata reached the disk whole
        renameSync(dir, target);
        tmp = undefined;
        return record;
      } catch (err) {
        const nospace = (err as NodeJS.ErrnoException).code === 'ENOSPC';
        throw new JobError(
          `checkpoint of job ${fresh.id} could not be saved: ${(err as Error).message}`,
          'FAILED',
          nospace ? `free space under ${store.home}, then checkpoint again` : undefined,
          { cause: err },
        );
      }
    };
    let record: CheckpointMeta | undefined;
    const dumped = await dump(
      fresh,
      dumpPid,
      {
        shellJob: adopted,
        imagesDir: staging ?? dir,
        leaveRunning,
        leaveStopped: Boolean(options.leaveStopped),
        ...(options.pageServer ? { pageServer: options.pageServer } : {}),
        ...(options.onFreezing ? { onFreezing: options.onFreezing } : {}),
        preDump: options.pageServer ? 'never' : (options.preDump ?? 'auto'),
        home: store.home,
        fileLocks,
        runDir: store.runDir(fresh.id),
        jobDir: store.jobDir(fresh.id),
        previousFiles: store.checkpoints(fresh.id).at(-1)?.files ?? [],
      },
      progress,
      options.onBytes ?? noMeter,
      (d, ms) => {
        if (!leaveRunning) record = finalize(d, ms);
      },
    );
    faultPoint('checkpoint:criu-returned');
    let moveMs: number | undefined;
    try {
      if (staging) {
        // The job runs again: now the images can take their time to reach the store.
        progress(`moving the images from ${options.stagingDir} into the job store…`);
        const moveStarted = performance.now();
        moveImages(staging, dir);
        moveMs = performance.now() - moveStarted;
      }
      record ??= finalize(dumped, dumped.ms);
    } catch (err) {
      throw await withJobState(
        JobError.is(err)
          ? err
          : new JobError(
              `checkpoint of job ${fresh.id} could not be moved into the job store: ${(err as Error).message}`,
              'FAILED',
              (err as NodeJS.ErrnoException).code === 'ENOSPC'
                ? `free space under ${store.home}, then checkpoint again`
                : undefined,
              { cause: err },
            ),
        fresh,
        store.runDir(fresh.id),
      );
    }
    // criu's stats exist only now (in the renamed directory when the hook moved it);
    // the checkpoint is complete without them.
    const stats =
      dumped.stats ??
      (await readStats(target, 'dump')
        .then((s) => s.dump)
        .catch(() => undefined));
    record = {
      ...record,
      dumpMs: dumped.ms,
      ...frozen(stats),
      ...(dumped.hookMs !== undefined ? { hookMs: Math.round(dumped.hookMs * 10) / 10 } : {}),
      preDump: dumped.preDump,
      ...(staging ? { stagedIn: options.stagingDir!, moveMs: moveMs! } : {}),
    };
    try {
      restrictToOwner(target); // criu wrote its stats after the images
      writeJsonAtomic(join(target, 'checkpoint.json'), record);
    } catch {
      // The first metadata is complete; only the stats are missing then.
    }
    // The content hashes come from a detached low-priority sealer (seal.ts):
    // a restore here needs only the identities just recorded.
    if (startSealer(target, record) !== undefined)
      progress(
        `sealing checkpoint ${number} in the background (content hashes for export and --verify)…`,
      );
    faultPoint('checkpoint:finalizing');
    if (!leaveRunning) store.save({ ...store.load(fresh.id), phase: 'checkpointed' });
    return { id: fresh.id, record, stats };
  } finally {
    if (tmp && !process.env.CRYOPIPE_KEEP_FAILED) rmSync(tmp, { recursive: true, force: true });
    if (staging) rmSync(staging, { recursive: true, force: true });
    release();
  }
}

interface Dumped {
  version: string;
  /** Time spent in our post-dump hook, inside the frozen window. */
  hookMs: number | undefined;
  files: FileRecord[];
  inputs: InputRecord[];
  treePids: number[] | undefined;
  stats: DumpResult['stats'];
  preDump: PreDumpDecision;
  ms: number;
}

/** Whether a checkpoint pre-dumped its memory first, and why (or why not). */
export interface PreDumpDecision {
  used: boolean;
  why: string;
}

async function decidePreDump(
  criu: CriuClient,
  mode: PreDumpMode,
  criuVersion: string,
  home: string,
): Promise<PreDumpDecision> {
  if (mode === 'never') return { used: false, why: 'turned off (--pre-dump never)' };
  if (mode === 'always') return { used: true, why: 'asked for (--pre-dump always)' };
  return (await criuTracksMemory(criu, criuVersion, home))
    ? { used: true, why: 'criu can track dirty memory here: the freeze writes only what changed' }
    : {
        used: false,
        why: "criu can't track dirty memory on this kernel (no CONFIG_MEM_SOFT_DIRTY): a pre-dump would save nothing",
      };
}

/** Copies a staged checkpoint (another file system, usually) into its directory in the store. */
function moveImages(from: string, to: string): void {
  cpSync(from, to, { recursive: true, verbatimSymlinks: true, force: false, errorOnExist: true });
  rmSync(from, { recursive: true, force: true });
}

async function dump(
  job: JobRecord,
  pid: number,
  opts: {
    shellJob: boolean;
    imagesDir: string;
    leaveRunning: boolean;
    leaveStopped: boolean;
    pageServer?: { address: string; port: number };
    onFreezing?: () => void;
    preDump: PreDumpMode;
    /** The cryopipe home, where criu's feature answer is cached. */
    home: string;
    /** The tree holds file locks: have criu save them. */
    fileLocks: boolean;
    /** The job's run directory, to tell whether the tree still runs after a failure. */
    runDir: string;
    /** The job's directory: files in it are the job's own, not inputs. */
    jobDir: string;
    /** The previous checkpoint's file records (their chunk hashes are reused). */
    previousFiles: FileRecord[];
  },
  progress: Progress,
  meter: ProgressMeter,
  /** Called while the tree is frozen and every image is written. */
  onImagesWritten: (d: Omit<Dumped, 'stats' | 'ms' | 'preDump' | 'hookMs'>, ms: number) => void,
): Promise<Dumped> {
  // criu creates images with our umask (it starts when the first request is sent):
  // keep them private from the start; restrictToOwner() checks afterwards.
  const umask = process.umask(0o077);
  const criu = (() => {
    try {
      return openCriu(opts.home);
    } catch (err) {
      process.umask(umask);
      throw err;
    }
  })();
  let files: FileRecord[] = [];
  let inputs: InputRecord[] = [];
  let treePids: number[] | undefined;
  let hookMs: number | undefined;
  const started = performance.now();
  const { shellJob, imagesDir, leaveRunning } = opts;
  let preDump: PreDumpDecision = { used: false, why: 'not decided' };
  try {
    const version = (await criuVersion(criu, opts.home)).text;
    preDump = await decidePreDump(criu, opts.preDump, version, opts.home);
    if (preDump.used) {
      progress(`pre-dumping the memory of job ${job.id} while it runs…`);
      const metering = meterDirectory(join(imagesDir, PRE_DUMP_DIR), 'pre-dumping memory', meter);
      try {
        await criu.preDump({
          pid,
          imagesDir: mkdirPrivate(join(imagesDir, PRE_DUMP_DIR)),
          logFile: 'pre-dump.log',
          trackMem: true,
          shellJob,
          ...(opts.fileLocks ? { fileLocks: true } : {}),
        });
      } finally {
        metering.stop();
      }
    }
    progress(`freezing job ${job.id} (pid ${pid}) and writing images…`);
    opts.onFreezing?.();
    // The images directory grows while criu writes: its size is the progress.
    const metering = meterDirectory(imagesDir, 'writing images', meter);
    const result = await criu
      .dump(
        {
          pid,
          imagesDir,
          logFile: 'dump.log',
          leaveRunning,
          ...(opts.leaveStopped ? { leaveStopped: true } : {}),
          ...(opts.pageServer ? { pageServer: opts.pageServer } : {}),
          shellJob,
          ...(opts.fileLocks ? { fileLocks: true } : {}),
          ...(preDump.used ? { parentImg: PRE_DUMP_DIR, trackMem: true } : {}),
        },
        {
          // The tree is frozen here: file sizes are exactly what criu records.
          postDump: async () => {
            const hookStarted = performance.now();
            metering.stop();
            faultPoint('checkpoint:criu-running');
            const tree = await recordTreeFiles(pid, opts.jobDir, opts.previousFiles);
            ({ files, inputs } = tree);
            // Without a PID namespace a restore needs every one of these host pids free.
            if (!job.pidNamespace) treePids = tree.pids;
            onImagesWritten({ version, files, inputs, treePids }, performance.now() - started);
            hookMs = performance.now() - hookStarted;
          },
        },
      )
      .finally(() => metering.stop());
    return {
      version,
      files,
      inputs,
      treePids,
      hookMs,
      stats: result.stats,
      preDump,
      ms: performance.now() - started,
    };
  } catch (err) {
    // Our own post-dump work failed (e.g. no space for the metadata): criu aborted and resumed the tree.
    const cause = (err as Error).cause;
    if (JobError.is(cause)) throw await withJobState(cause, job, opts.runDir);
    throw new JobError(
      `checkpoint of job ${job.id} failed: ${describeCriuError(err)}\n${await stateAfterFailure(opts.runDir, job)}`,
      'FAILED',
      (/No space left on device/.test(describeCriuError(err))
        ? `free space where the images go (${imagesDir.replace(/\/jobs\/.*$/, '')}) or point CRYOPIPE_HOME elsewhere, then checkpoint again; `
        : '') +
        `criu's log is removed with the partial images; rerun with CRYOPIPE_KEEP_FAILED=1 to keep ${join(imagesDir, 'dump.log')}`,
      { cause: err },
    );
  } finally {
    await criu.close();
    process.umask(umask);
  }
}

/**
 * After a failed dump: criu normally resumes the tree itself, but a criu that
 * died (SIGKILL, OOM) can leave it stopped. Resume it, and say where it stands.
 */
async function stateAfterFailure(runDir: string, job: JobRecord): Promise<string> {
  const rootPid = job.rootPid;
  if (!servesRunDir(rootPid, realRunDir(runDir)))
    return 'The job is no longer running; earlier checkpoints are intact.';
  const resumed = await resumeStoppedTree(rootPid);
  return `The job is still running${resumed.length ? ` (resumed stopped pids ${resumed.join(', ')})` : ''}; earlier checkpoints are intact.`;
}

async function withJobState(err: JobError, job: JobRecord, runDir: string): Promise<JobError> {
  return new JobError(
    `${err.message}\n${await stateAfterFailure(runDir, job)}`,
    err.code,
    err.hint,
    {
      cause: err.cause,
    },
  );
}

/** Temporary dump directories whose cryopipe process died (SIGKILL, power loss) are garbage. */
function removeAbandonedDumps(checkpointsDir: string): void {
  for (const name of readdirSync(checkpointsDir)) {
    const m = /^\.tmp-\d+-(\d+)$/.exec(name);
    if (m && !processExists(Number(m[1])))
      rmSync(join(checkpointsDir, name), { recursive: true, force: true });
  }
}

function frozen(stats: DumpResult['stats']): { frozenMs?: number } {
  return stats ? { frozenMs: stats.frozenTimeUs / 1000 } : {};
}
