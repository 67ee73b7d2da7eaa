import { checkpointJob } from '../checkpoint/checkpoint-job.ts';
import { JobError } from '../errors.ts';
import { formatDuration } from '../format.ts';
import { startJob } from '../pipeline/start-job.ts';
import { restoreJob } from '../restore/restore-job.ts';
import { startPeriodicCheckpointer } from '../schedule/periodic-checkpointer.ts';
import type { JobRecord, JobSchedule, JobStore } from '../store/job-store.ts';
import { jobProcesses } from '../store/live-root.ts';
import { jobLiveness, liveRoot } from '../store/liveness.ts';
import { waitForJob } from '../store/wait-job.ts';
import { parseScontrol, scontrol, slurmSeconds } from './scontrol.ts';
import { defaultJobName, type SlurmJobEnv, slurmJobEnv } from './slurm-env.ts';
import { readSlurmRecord, recordRun, recordRunEnd } from './slurm-record.ts';

/** Options of `superviseSlurmJob()`. */
export interface SlurmJobOptions {
  /** The pipeline, as `startJob()` takes it. */
  pipeline: string | readonly string[];
  /** The cryopipe job name; default `slurm-$SLURM_JOB_ID`, the same across requeues. */
  name?: string;
  /** Periodic live checkpoints, bounding the loss when no warning comes (node failure, SIGKILL). */
  schedule?: JobSchedule;
  /** The Slurm environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Requeue the Slurm job after a stopping checkpoint (default: `scontrol requeue $SLURM_JOB_ID`). */
  requeue?: (slurmJobId: string) => Promise<void>;
  /** Receives one line per step (started, restored, signal, checkpoint, requeue). */
  onLog?: (line: string) => void;
}

/** How a supervised run ended. */
export type SlurmOutcome =
  | {
      /** The pipeline ended (now, or in an earlier run). */
      outcome: 'finished';
      /** The cryopipe job id. */
      id: string;
      /** The pipeline's exit status (pipefail: the rightmost failure). */
      exitCode: number;
    }
  | {
      /** A stopping checkpoint was taken: the job goes on in its next run. */
      outcome: 'checkpointed';
      /** The cryopipe job id. */
      id: string;
      /** The signal that asked for it; absent when someone else took it (`cryopipe checkpoint`). */
      signal?: NodeJS.Signals;
      /** The checkpoint's number. */
      checkpoint: number;
      /** From the signal to the checkpoint on disk, in milliseconds. */
      checkpointMs: number;
      /** `scontrol requeue` succeeded. */
      requeued: boolean;
      /** Why the requeue failed (Slurm already requeues it, or the job was cancelled). */
      requeueError?: string;
    }
  | {
      /** The pipeline vanished without a status (killed from outside). */
      outcome: 'lost';
      /** The cryopipe job id. */
      id: string;
      /** 1: nothing says how it ended. */
      exitCode: number;
    };

/** A running supervision: ask it to checkpoint, await how it ends. */
export interface SlurmJobRun {
  /**
   * Asks for the one stopping checkpoint. Only the first request counts;
   * one that comes while it runs is logged and ignored (a failed checkpoint
   * leaves the job running, and a later request tries again).
   */
  stop(signal: NodeJS.Signals): void;
  /** Settles when the run is over. */
  done: Promise<SlurmOutcome>;
}

/** The run's beginning: the job, and whether it was started or restored. */
interface Begun {
  job: JobRecord;
  finished?: SlurmOutcome;
}

/**
 * Runs a pipeline as the main process of a Slurm batch job. The first run
 * starts it; a requeued run (or any run finding a checkpoint of the job in
 * CRYOPIPE_HOME) restores the newest checkpoint. It waits in the
 * foreground; `stop(signal)` takes one stopping checkpoint and requeues the
 * Slurm job, so the next run goes on from there.
 */
export function superviseSlurmJob(store: JobStore, opts: SlurmJobOptions): SlurmJobRun {
  const log = opts.onLog ?? (() => {});
  let requested: NodeJS.Signals | undefined;
  let busy = false;
  let wake: () => void = () => {};
  const stop = (signal: NodeJS.Signals) => {
    if (busy || requested) {
      log(`${signal} ignored: a checkpoint is already under way`);
      return;
    }
    requested = signal;
    wake();
  };
  const done = (async (): Promise<SlurmOutcome> => {
    const env = slurmJobEnv(opts.env);
    const begun = await begin(store, env, opts, log);
    if (begun.finished) return begun.finished;
    const { id } = begun.job;
    for (;;) {
      const woken = new Promise<void>((r) => {
        wake = r;
      });
      const aborter = new AbortController();
      if (!requested) {
        const ended = await Promise.race([
          waitForJob(store, id, { signal: aborter.signal, pollMs: 250 }),
          woken.then(() => undefined),
        ]);
        aborter.abort();
        if (ended) return ending(store, env, opts, id, ended.state, ended.exitCode, log);
      }
      const signal = requested!;
      busy = true;
      try {
        const out = await stopWithCheckpoint(store, env, id, signal, opts, log);
        if (out) return out;
      } finally {
        busy = false;
        requested = undefined;
      }
    }
  })();
  return { stop, done };
}

/** Starts the pipeline, or restores the job's newest checkpoint; records the run. */
async function begin(
  store: JobStore,
  env: SlurmJobEnv,
  opts: SlurmJobOptions,
  log: (line: string) => void,
): Promise<Begun> {
  const name = opts.name ?? defaultJobName(env);
  const existing = store.list().find((j) => j.name === name);
  const at = new Date().toISOString();
  const node = env.nodeName;
  if (existing) {
    await killLeftover(store, env, existing, log);
    const live = await jobLiveness(store, store.load(existing.id));
    if (live.state === 'exited' || live.state === 'failed') {
      log(`job ${name} already finished in an earlier run (exit ${live.exitCode ?? 1})`);
      return {
        job: existing,
        finished: { outcome: 'finished', id: existing.id, exitCode: live.exitCode ?? 1 },
      };
    }
    if (store.checkpoints(existing.id).length > 0) {
      log(
        `restoring job ${name} (Slurm job ${env.jobId}, restart ${env.restartCount}) on ${node ?? 'this node'}…`,
      );
      const r = await restoreJob(store, existing.id, { lockWaitMs: 60_000 });
      log(`restored job ${name} from checkpoint ${r.from} in ${formatDuration(r.ms)}`);
      const job = store.load(existing.id);
      if (job.schedule) startPeriodicCheckpointer(store, job.id);
      recordRun(store, job.id, env.jobId, {
        restartCount: env.restartCount,
        node,
        at,
        action: 'restored',
        from: r.from,
        ms: r.ms,
      });
      return { job };
    }
    if (env.restartCount === 0) {
      throw new JobError(
        `a job named ${name} already exists and has no checkpoint to go on from`,
        'USAGE',
        `pick another --name, or remove it first: cryopipe rm ${name}`,
      );
    }
    // Requeued before its first checkpoint: nothing to go on from, start over.
    log(`job ${name} has no checkpoint yet: starting it over`);
    store.remove(existing.id);
  }
  const t0 = performance.now();
  const started = await startJob(store, {
    pipeline: opts.pipeline,
    name,
    ...(opts.schedule ? { schedule: opts.schedule } : {}),
  });
  const ms = performance.now() - t0;
  log(`started job ${name} (Slurm job ${env.jobId}) on ${node ?? 'this node'}`);
  recordRun(store, started.job.id, env.jobId, {
    restartCount: env.restartCount,
    node,
    at,
    action: 'started',
    ms,
  });
  return { job: started.job };
}

/**
 * A run of this very Slurm job on this node before the requeue left its
 * pipeline alive (proctrack/linuxproc does not follow a restored tree, so
 * nothing killed it): Slurm runs a job once at a time, so that tree is
 * stale. It is killed before the restore, which cuts its outputs back.
 */
async function killLeftover(
  store: JobStore,
  env: SlurmJobEnv,
  job: JobRecord,
  log: (line: string) => void,
): Promise<void> {
  const pid = liveRoot(store, job);
  if (pid === undefined) return;
  const mine = readSlurmRecord(store, job.id)?.slurmJobId === env.jobId;
  if (!mine || env.restartCount === 0) {
    throw new JobError(
      `job ${job.name ?? job.id} is running here already (pid ${pid})`,
      'BUSY',
      'give this Slurm job another --name, or stop the other one first',
    );
  }
  log(`killing the pipeline an earlier run of Slurm job ${env.jobId} left behind (pid ${pid})`);
  killTree(pid);
  // Stages can outlive their launcher for a moment (or for good, if they left
  // its process group): every process writing into the job's run or logs
  // directory goes too, or the restore finds them and refuses.
  const leftovers = () => jobProcesses(store.jobDir(job.id));
  const deadline = Date.now() + 10_000;
  while (liveRoot(store, job) !== undefined || leftovers().length > 0) {
    for (const stage of leftovers()) if (stage > 1) killPid(stage);
    if (Date.now() > deadline) {
      throw new JobError(
        `the leftover pipeline of job ${job.id} (pid ${pid}) did not die`,
        'FAILED',
        `kill it by hand (kill -KILL ${pid}), then requeue the job`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGKILL to one process that may already be gone. */
function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

/** SIGKILL to the tree: its process group (the launcher leads its session), then the root. */
export function killTree(pid: number): void {
  // 0 or 1 would signal our own process group, or everything.
  if (!Number.isSafeInteger(pid) || pid <= 1) return;
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}

/** The stopping checkpoint, then the requeue; undefined when it failed and the job runs on. */
async function stopWithCheckpoint(
  store: JobStore,
  env: SlurmJobEnv,
  id: string,
  signal: NodeJS.Signals,
  opts: SlurmJobOptions,
  log: (line: string) => void,
): Promise<SlurmOutcome | undefined> {
  const t0 = performance.now();
  log(`${signal}: checkpointing job ${id}…`);
  let number: number;
  try {
    ({
      record: { number },
    } = await checkpointJob(store, id, { lockWaitMs: 60_000, onProgress: log }));
  } catch (err) {
    const live = await jobLiveness(store, store.load(id));
    if (!live.alive) return ending(store, env, opts, id, live.state, live.exitCode ?? 1, log);
    log(`checkpoint failed, the job runs on: ${(err as Error).message}`);
    return undefined;
  }
  const checkpointMs = performance.now() - t0;
  log(`checkpoint ${number} taken in ${formatDuration(checkpointMs)} (signal to images on disk)`);
  const requeueError = await requeue(env, number, opts, log);
  const requeued = requeueError === undefined;
  recordRunEnd(store, id, {
    at: new Date().toISOString(),
    outcome: 'checkpointed',
    signal,
    checkpoint: number,
    checkpointMs,
    requeued,
  });
  return {
    outcome: 'checkpointed',
    id,
    signal,
    checkpoint: number,
    checkpointMs,
    requeued,
    ...(requeueError ? { requeueError } : {}),
  };
}

/**
 * `scontrol requeue ID`, unless the job is being cancelled: slurmctld
 * accepts a requeue even then, and would undo the user's `scancel`. A job
 * still RUNNING got a warning; one ending (COMPLETING) before its time
 * limit was cancelled, one at its limit timed out (Slurm won't requeue that
 * itself). A preempted job is already requeued by Slurm: the call fails.
 */
async function requeueUnlessCancelled(jobId: string): Promise<void> {
  const job = parseScontrol(await scontrol(['show', 'job', jobId]));
  const state = job.get('JobState') ?? '';
  const run = slurmSeconds(job.get('RunTime'));
  const limit = slurmSeconds(job.get('TimeLimit'));
  const timedOut =
    state === 'TIMEOUT' || (run !== undefined && limit !== undefined && run >= limit);
  if (state.startsWith('CANCELLED') || (state === 'COMPLETING' && !timedOut)) {
    throw new JobError(
      `Slurm job ${jobId} was cancelled, so it is not requeued`,
      'REFUSED',
      'submit the same script again (same --name) to go on from the checkpoint',
    );
  }
  await scontrol(['requeue', jobId]);
}

/** `scontrol requeue $SLURM_JOB_ID` (or `opts.requeue`); why it failed, or undefined. */
async function requeue(
  env: SlurmJobEnv,
  number: number,
  opts: SlurmJobOptions,
  log: (line: string) => void,
): Promise<string | undefined> {
  try {
    await (opts.requeue ?? requeueUnlessCancelled)(env.jobId);
    log(`requeued Slurm job ${env.jobId}: the next run restores checkpoint ${number}`);
    return undefined;
  } catch (err) {
    const why = (err as Error).message;
    log(
      `not requeued: ${why} (a preempted job is requeued by Slurm itself; a cancelled one keeps its checkpoint for a later submission with the same --name)`,
    );
    return why;
  }
}

/** The outcome of a run whose pipeline stopped running by itself. */
async function ending(
  store: JobStore,
  env: SlurmJobEnv,
  opts: SlurmJobOptions,
  id: string,
  state: string,
  exitCode: number,
  log: (line: string) => void,
): Promise<SlurmOutcome> {
  if (state === 'lost') {
    log(`job ${id} vanished without an exit status (killed from outside?)`);
    return { outcome: 'lost', id, exitCode: 1 };
  }
  if (state === 'checkpointed') {
    // Someone ran a stopping 'cryopipe checkpoint' on it: not finished, so
    // the Slurm job goes back to the queue like after a warning.
    const number = store.checkpoints(id).at(-1)?.number ?? 0;
    log(`job ${id} was checkpointed and stopped from outside (checkpoint ${number})`);
    const requeueError = await requeue(env, number, opts, log);
    recordRunEnd(store, id, {
      at: new Date().toISOString(),
      outcome: 'checkpointed',
      checkpoint: number,
      requeued: requeueError === undefined,
    });
    return {
      outcome: 'checkpointed',
      id,
      checkpoint: number,
      checkpointMs: 0,
      requeued: requeueError === undefined,
      ...(requeueError ? { requeueError } : {}),
    };
  }
  log(`job ${id} ${state} (exit ${exitCode})`);
  recordRunEnd(store, id, { at: new Date().toISOString(), outcome: 'finished', exitCode });
  return { outcome: 'finished', id, exitCode };
}
