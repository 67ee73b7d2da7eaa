import { closeSync, constants, existsSync, fchmodSync, openSync } from 'node:fs';
import { currentUmask, spawnPipeline } from '@cryopipe/spawn';
import { JobError } from '../errors.ts';
import { startPeriodicCheckpointer } from '../schedule/periodic-checkpointer.ts';
import type { JobRecord, JobSchedule, JobStore } from '../store/job-store.ts';
import { preflightPipeline } from './pipeline-preflight.ts';
import { planPipeline, type SideEffectOpen, sessionFreeEnv } from './pipeline-spec.ts';
import { parsePipelineArgv, parsePipelineString } from './pipeline-syntax.ts';

/** Options of `startJob()`. */
export interface StartJobOptions {
  /**
   * The pipeline: one string in the supported shell subset
   * (`'ffmpeg … | aomenc … > out.ivf'`), or argv words with the operators as
   * separate words (`['cat', 'in', '|', 'gzip', '>', 'out.gz']`).
   */
  pipeline: string | readonly string[];
  /** A unique name to use instead of the generated id. */
  name?: string;
  /** Working directory of every stage (default: this process's). */
  cwd?: string;
  /** Environment of the stages (default: this process's); terminal-session variables are dropped. */
  env?: NodeJS.ProcessEnv;
  /**
   * Run the dump root as PID 1 of a fresh PID namespace, so restores never
   * collide on pids (default: true when root; needs root).
   */
  pidNamespace?: boolean;
  /** Periodic live checkpoints, started with the job (needs root). */
  schedule?: JobSchedule;
  /** File-mode mask of the stages (default: this process's, as a shell's children get). */
  umask?: number;
}

/** What `startJob()` started. */
export interface StartedJob {
  /** The new job's record, as saved. */
  job: JobRecord;
  /** The pipeline's stages as spawned, in order. */
  stages: {
    /** The stage's argv. */
    argv: readonly string[];
    /** The stage's host pid. */
    pid: number;
  }[];
  /** Pid of the periodic checkpointer, when a schedule was given. */
  checkpointerPid?: number;
}

/**
 * Starts a pipeline the checkpointable way: every problem the pipeline string
 * can show (syntax, missing commands, unreadable inputs, unwritable outputs)
 * is reported before anything starts, then the stages start under the static
 * launcher and the job is recorded. Nothing is left behind when it fails.
 */
export async function startJob(store: JobStore, opts: StartJobOptions): Promise<StartedJob> {
  const syntax =
    typeof opts.pipeline === 'string'
      ? parsePipelineString(opts.pipeline)
      : parsePipelineArgv([...opts.pipeline]);
  const command =
    typeof opts.pipeline === 'string'
      ? opts.pipeline
      : opts.pipeline.map(quoteForDisplay).join(' ');
  const cwd = opts.cwd ?? process.cwd();
  const callerEnv = opts.env ?? process.env;
  preflightPipeline(syntax, { cwd, env: sessionFreeEnv(callerEnv) });
  const root = process.geteuid?.() === 0;
  if (opts.pidNamespace && !root) {
    throw new JobError(
      'a PID namespace needs root',
      'ENVIRONMENT',
      'run as root, or start the job without a PID namespace',
    );
  }
  const pidNamespace = opts.pidNamespace ?? root;
  const umask = opts.umask ?? currentUmask();
  const id = store.create(opts.name);
  let handle: Awaited<ReturnType<typeof spawnPipeline>>;
  try {
    const plan = planPipeline(syntax, { cwd, logsDir: store.logsDir(id), env: callerEnv });
    openForSideEffects(plan.sideEffects, umask);
    handle = await spawnPipeline(
      { ...plan.spec, umask },
      {
        runDir: store.runDir(id),
        pidNamespace: pidNamespace ? 'auto' : false,
      },
    );
  } catch (err) {
    store.remove(id); // nothing started: leave no half-made job behind
    throw err;
  }
  const job: JobRecord = {
    version: 1,
    id,
    ...(opts.name ? { name: opts.name } : {}),
    command,
    createdAt: new Date().toISOString(),
    cwd,
    pidNamespace: handle.mode === 'pidns',
    umask,
    phase: 'running',
    rootPid: handle.rootPid,
    launcherPid: handle.launcherPid,
    restores: [],
    ...(opts.schedule ? { schedule: opts.schedule } : {}),
  };
  store.save(job);
  const checkpointerPid = opts.schedule ? startPeriodicCheckpointer(store, id) : undefined;
  return {
    job,
    stages: handle.stages.map((s) => ({ argv: s.argv, pid: s.pid })),
    ...(checkpointerPid !== undefined ? { checkpointerPid } : {}),
  };
}

/** An argv word as a shell would need it quoted, for display only. */
function quoteForDisplay(arg: string): string {
  return /^[\w@%+=:,./|<>&-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The opens bash performs for redirections that a later one of the same fd
 * replaced (`cmd > a > b` creates and truncates a; `>> a` creates it), with
 * the stages' umask, as the stage itself would have created the file.
 */
function openForSideEffects(opens: readonly SideEffectOpen[], umask: number): void {
  for (const { path, mode } of opens) {
    const flags =
      mode === 'read'
        ? constants.O_RDONLY
        : constants.O_WRONLY |
          constants.O_CREAT |
          (mode === 'append' ? constants.O_APPEND : constants.O_TRUNC);
    const created = mode !== 'read' && !existsSync(path);
    const fd = openSync(path, flags, 0o666 & ~umask);
    try {
      // openSync applies this process's umask too; the file gets the stages' one.
      if (created) fchmodSync(fd, 0o666 & ~umask);
    } finally {
      closeSync(fd);
    }
  }
}
