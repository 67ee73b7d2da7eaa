import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkpointJob } from '../checkpoint/checkpoint-job.ts';
import { applyRetention } from '../checkpoint/retention.ts';
import { JobError } from '../errors.ts';
import { formatBytes, formatDuration } from '../format.ts';
import { openCriu } from '../machine/criu.ts';
import { criuTracksMemory, criuVersion } from '../machine/machine-facts.ts';
import { mkdirPrivate } from '../store/home.ts';
import { type JobSchedule, type JobStore, writeJsonAtomic } from '../store/job-store.ts';
import { liveRoot } from '../store/liveness.ts';
import { acquireLock } from '../store/lock.ts';
import { CHECKPOINTER_ARG, type CheckpointerState, checkpointerDir } from './checkpointer-state.ts';
import { DEFAULT_KEEP, formatInterval } from './schedule-duration.ts';

export {
  CHECKPOINTER_ARG,
  type CheckpointerState,
  checkpointerDir,
  runningCheckpointer,
} from './checkpointer-state.ts';

/** How long the checkpointer waits for a `cryopipe checkpoint` or restore holding the job. */
const LOCK_WAIT_MS = 30_000;
/** How often it looks whether the job still runs (it exits soon after the job does). */
const POLL_MS = 500;

/**
 * Starts the job's checkpointer as a detached process: its own session, stdin
 * from /dev/null, output to `periodic/checkpointer.log`, cwd `/`. It is no
 * child of the job, so it is never part of a dump, and the job inherits
 * nothing from it. A second start while one runs exits at once (its lock).
 */
export function startPeriodicCheckpointer(store: JobStore, id: string): number {
  // Built next to this module (dist/checkpointer.js); from source (tests), next to dist/.
  const entry = [
    new URL('./checkpointer.js', import.meta.url),
    new URL('../../dist/checkpointer.js', import.meta.url),
  ]
    .map((u) => fileURLToPath(u))
    .find((p) => existsSync(p));
  if (!entry) {
    throw new JobError(
      `can't start periodic checkpoints: checkpointer.js is missing next to ${fileURLToPath(import.meta.url)}`,
      'ENVIRONMENT',
      'build or reinstall @cryopipe/jobs (its dist/ holds checkpointer.js)',
    );
  }
  const dir = mkdirPrivate(checkpointerDir(store, id));
  const log = openSync(join(dir, 'checkpointer.log'), 'a', 0o600);
  try {
    const child = spawn(process.execPath, [entry, CHECKPOINTER_ARG, store.home, id], {
      detached: true,
      stdio: ['ignore', log, log],
      cwd: '/',
      env: { ...process.env, CRYOPIPE_HOME: store.home },
    });
    child.unref();
    return child.pid ?? 0;
  } finally {
    closeSync(log);
  }
}

/**
 * The checkpointer's loop: every interval (start to start) a live
 * checkpoint through checkpointJob, then retention. A failed checkpoint is
 * logged and the job keeps running; the next tick tries again. It exits when
 * the job stops running (ended, killed, checkpointed and stopped), when its
 * schedule is removed, or when the job is removed.
 */
export async function runPeriodicCheckpointer(
  store: JobStore,
  id: string,
  log: (text: string) => void,
): Promise<void> {
  let release: () => void;
  try {
    release = await acquireLock(join(checkpointerDir(store, id), 'lock'), 'periodic checkpoints');
  } catch (err) {
    if (JobError.is(err) && err.code === 'BUSY') {
      log(`another checkpointer already serves job ${id}; this one exits`);
      return;
    }
    throw err;
  }
  try {
    const state: CheckpointerState = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      preDump: await preDumpSupport(store.home),
    };
    const save = () => writeJsonAtomic(join(checkpointerDir(store, id), 'state.json'), state);
    save();
    log(`checkpointer for job ${id} started (pid ${process.pid}); ${state.preDump}`);
    let next = Date.now() + (store.load(id).schedule?.everyMs ?? 0);
    for (;;) {
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(POLL_MS, next - Date.now()))));
      let job: ReturnType<JobStore['load']>;
      try {
        job = store.load(id);
      } catch {
        log(`job ${id} was removed; exiting`);
        return;
      }
      if (!job.schedule) return log('schedule removed; exiting');
      if (liveRoot(store, job) === undefined) return log(`job ${id} is not running; exiting`);
      if (Date.now() < next) continue;
      next = Date.now() + job.schedule.everyMs;
      const short = spaceShortage(store, id, job.schedule);
      if (short) {
        // Skipped, not failed: the job runs on and the next tick looks again.
        state.lastError = { at: new Date().toISOString(), message: short };
        log(`checkpoint skipped: ${short}`);
        save();
        continue;
      }
      try {
        const { record } = await checkpointJob(store, job, {
          leaveRunning: true,
          lockWaitMs: LOCK_WAIT_MS,
          ...(job.schedule.stagingDir ? { stagingDir: job.schedule.stagingDir } : {}),
          onProgress: log,
        });
        state.lastCheckpoint = {
          number: record.number,
          at: record.takenAt,
          dumpMs: record.dumpMs,
          ...(record.frozenMs !== undefined ? { frozenMs: record.frozenMs } : {}),
        };
        log(
          `checkpoint ${record.number}: ${formatBytes(record.imageBytes)}, frozen ` +
            `${record.frozenMs !== undefined ? formatDuration(record.frozenMs) : '?'}, ` +
            `${formatDuration(record.dumpMs)} in all; next in ${formatInterval(job.schedule.everyMs)}`,
        );
        // Schedules made before there was a default keep get it too.
        const keep = job.schedule.keep ?? DEFAULT_KEEP;
        const removed = await applyRetention(store, id, keep, { lockWaitMs: LOCK_WAIT_MS });
        if (removed.length) log(`removed checkpoints ${removed.join(', ')} (keep ${keep})`);
      } catch (err) {
        // The job keeps running after a failed checkpoint; try again next time.
        state.lastError = { at: new Date().toISOString(), message: (err as Error).message };
        log(`checkpoint failed: ${(err as Error).message}`);
      }
      save();
    }
  } finally {
    release();
  }
}

/** Free space wanted beyond the size of the last checkpoint: criu's logs, metadata, growth. */
const SPACE_MARGIN_BYTES = 64 * 2 ** 20;

/**
 * Why the next checkpoint would not fit, or undefined. It is expected to be
 * about as large as the last one (plus a margin: a tenth, at least 64 MiB),
 * and needs that much in the job store and in the staging directory; the
 * oldest checkpoint is only removed after the new one is complete. Without
 * a previous checkpoint there is nothing to go by: the first one is tried.
 */
export function spaceShortage(
  store: JobStore,
  id: string,
  schedule: JobSchedule,
): string | undefined {
  const last = store.checkpoints(id).at(-1);
  if (!last) return undefined;
  const need = last.imageBytes + Math.max(SPACE_MARGIN_BYTES, last.imageBytes / 10);
  for (const dir of [store.checkpointsDir(id), schedule.stagingDir]) {
    if (dir === undefined) continue;
    let free: number;
    try {
      const fs = statfsSync(dir);
      free = fs.bavail * fs.bsize;
    } catch {
      continue; // checkpointJob reports a missing directory itself
    }
    if (free < need) {
      return `only ${formatBytes(free)} free in ${dir}, and checkpoint ${last.number} took ${formatBytes(last.imageBytes)}: the next one needs about ${formatBytes(need)}; free space or lower --keep`;
    }
  }
  return undefined;
}

/**
 * Pre-dumps would shorten freezes, but need the kernel's soft-dirty
 * tracking; ask CRIU rather than guess, and say what that means.
 */
async function preDumpSupport(home: string): Promise<string> {
  try {
    const criu = openCriu(home);
    try {
      const version = (await criuVersion(criu, home)).text;
      return (await criuTracksMemory(criu, version, home))
        ? 'criu tracks dirty memory here: each checkpoint pre-dumps while the job runs, then freezes it only to write what changed'
        : 'no memory tracking here (no soft-dirty): every checkpoint is a full dump, the job frozen while its memory is written';
    } finally {
      await criu.close();
    }
  } catch (err) {
    return `criu's feature check failed (${(err as Error).message}): full dumps`;
  }
}
