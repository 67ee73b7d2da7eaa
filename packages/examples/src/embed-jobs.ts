/**
 * A minimal embedding of @cryopipe/jobs: start a pipeline, checkpoint it
 * (the job stops), restore it, wait for it. No `cryopipe` process involved.
 */
import { checkpointJob, JobStore, restoreJob, startJob, waitForJob } from '@cryopipe/jobs';

export interface EmbeddedRun {
  checkpoint: number;
  imageBytes: number;
  restoredPid: number;
  exitCode: number;
}

export async function embeddedEncode(
  home: string,
  pipeline: readonly string[],
  /** Resolves when the job has done enough work to be worth a checkpoint. */
  midway: () => Promise<void>,
): Promise<EmbeddedRun> {
  const store = new JobStore(home); // a private job store: jobs/, checkpoints, logs
  const { job } = await startJob(store, { pipeline });
  await midway();
  const { record } = await checkpointJob(store, job); // frozen to disk, then stopped
  const restored = await restoreJob(store, job); // from the newest checkpoint
  const done = await waitForJob(store, job);
  return {
    checkpoint: record.number,
    imageBytes: record.imageBytes,
    restoredPid: restored.rootPid,
    exitCode: done.exitCode,
  };
}
