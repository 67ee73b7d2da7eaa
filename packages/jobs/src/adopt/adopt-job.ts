import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { findCriu } from '@cryopipe/criu-client';
import { Procfs } from '@cryopipe/procfs';
import { stageLogName, startKeeper } from '@cryopipe/spawn';
import { recordTreeFiles } from '../checkpoint/tree-files.ts';
import { JobError } from '../errors.ts';
import { type FileRecord, reconcileFiles } from '../integrity/file-state.ts';
import { imageManifest } from '../integrity/image-manifest.ts';
import { restrictToOwner } from '../integrity/image-safety.ts';
import { describeCriuError, openCriu, requireRoot } from '../machine/criu.ts';
import type { Progress } from '../progress.ts';
import { waitForFreePids } from '../restore/pids.ts';
import { mkdirPrivate } from '../store/home.ts';
import { type JobRecord, type JobStore, writeJsonAtomic } from '../store/job-store.ts';
import type { AdoptPlan } from './adopt-plan.ts';

/** Where the one shell-job dump of an adoption goes: not a number, so `restore` never offers it. */
export const ADOPTION_DIR = 'adopted';

/** What `adoptJob()` did: the new job and the restored tree. */
export interface AdoptOutcome {
  /** Id of the job made for the adopted tree. */
  id: string;
  /** The keeper: the job's root from now on (what ps, kill and checkpoint act on). */
  keeperPid: number;
  /** The adopted root, restored under the keeper's terminal (same pid as before). */
  rootPid: number;
  /** Files the tree had open for writing, as recorded at the checkpoint. */
  files: FileRecord[];
  /** From the start of the dump to the restored tree running again. */
  interruptionMs: number;
}

/**
 * Takes over a terminal-attached tree: one `--shell-job` dump into the job's
 * private checkpoint directory, then an immediate restore under a keeper that
 * owns a fresh pty (restoring from a session leader whose controlling terminal is that pty: the only way that also works for a
 * subtree whose session leader stays behind). The job is then an ordinary
 * cryopipe job whose root is the keeper.
 */
export async function adoptProcess(
  store: JobStore,
  plan: AdoptPlan,
  options: { name?: string },
  progress: Progress,
): Promise<AdoptOutcome> {
  requireRoot('adopt');
  const { pid } = plan;
  const size = terminalSize(plan.terminals[0]);
  const cwd = safeReadlink(`/proc/${pid}/cwd`) ?? '/';
  const id = store.create(options.name);
  const imagesDir = join(store.checkpointsDir(id), ADOPTION_DIR);
  let dumped: { files: FileRecord[]; treePids: number[] };
  const started = performance.now();
  try {
    dumped = await dumpShellJob(pid, imagesDir, store.home, progress);
  } catch (err) {
    store.remove(id); // the tree still runs where it was: nothing was adopted
    throw err;
  }
  // From here the old tree is gone: whatever fails, the images stay for a retry by hand.
  const retry = `the images are in ${imagesDir}; from a terminal you can restore them with: criu restore -D ${imagesDir} --shell-job`;
  const job: JobRecord & { adopted: { pid: number; terminals: string[] } } = {
    version: 1,
    id,
    ...(options.name ? { name: options.name } : {}),
    command: plan.command,
    createdAt: new Date().toISOString(),
    cwd,
    pidNamespace: false,
    phase: 'checkpointed',
    rootPid: 0,
    restores: [],
    adopted: { pid, terminals: plan.terminals },
  };
  store.save(job);
  try {
    reconcileFiles(dumped.files);
    // A dumped process stays a zombie until its old parent (tmux, a shell) reaps it.
    await waitForFreePids(dumped.treePids, 10_000);
    progress(`restoring it under cryopipe's own terminal…`);
    const kept = await startKeeper({
      runDir: store.runDir(id),
      imagesDir,
      terminalLog: join(store.logsDir(id), stageLogName(0)),
      criu: findCriu(),
      ...size,
    });
    const interruptionMs = performance.now() - started;
    store.save({ ...job, phase: 'running', rootPid: kept.keeperPid, launcherPid: kept.keeperPid });
    return { id, ...kept, files: dumped.files, interruptionMs };
  } catch (err) {
    const why = JobError.is(err) ? err.message : (err as Error).message;
    throw new JobError(
      `pid ${pid} was dumped but could not be restored under cryopipe: ${why}`,
      'FAILED',
      `${retry}; criu's log: ${join(store.runDir(id), 'restore.log')}`,
      { cause: err },
    );
  }
}

async function dumpShellJob(
  pid: number,
  imagesDir: string,
  home: string,
  progress: Progress,
): Promise<{ files: FileRecord[]; treePids: number[] }> {
  const umask = process.umask(0o077); // images hold process memory: private from the start
  try {
    mkdirPrivate(imagesDir);
    const criu = openCriu(home);
    let files: FileRecord[] = [];
    let treePids: number[] = [];
    try {
      progress(`freezing pid ${pid} and its children and writing images…`);
      await criu.dump(
        { pid, imagesDir, logFile: 'dump.log', shellJob: true },
        {
          // The tree is frozen here: the sizes are exactly what criu records.
          postDump: async () => {
            // An adopted tree has no job directory of its own yet: nothing is excluded.
            ({ files } = await recordTreeFiles(pid, '/nonexistent-cryopipe-job-dir'));
            const snap = await new Procfs().snapshot(pid, { outside: false });
            treePids = [...snap.processes.keys()].sort((a, b) => a - b);
          },
        },
      );
    } catch (err) {
      throw new JobError(
        `dump of pid ${pid} failed: ${describeCriuError(err)}\nThe processes keep running where they were.`,
        'FAILED',
        `see 'cryopipe diagnose ${pid}'`,
        { cause: err },
      );
    } finally {
      await criu.close();
    }
    restrictToOwner(imagesDir);
    writeJsonAtomic(join(imagesDir, 'adoption.json'), {
      pid,
      takenAt: new Date().toISOString(),
      treePids,
      files,
      images: imageManifest(imagesDir),
    });
    return { files, treePids };
  } finally {
    process.umask(umask);
  }
}

/** The old terminal's size, so full-screen programs keep their layout; 80x24 when unknown. */
function terminalSize(tty: string | undefined): { columns: number; rows: number } {
  try {
    if (tty) {
      const [rows, columns] = execFileSync('stty', ['-F', tty, 'size'], { encoding: 'utf8' })
        .trim()
        .split(' ')
        .map(Number);
      if (rows && columns) return { columns, rows };
    }
  } catch {
    // Not a terminal we can open: keep the default.
  }
  return { columns: 80, rows: 24 };
}

function safeReadlink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}
