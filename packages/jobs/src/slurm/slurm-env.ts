import { JobError } from '../errors.ts';

/** What Slurm tells a batch job about itself through its environment. */
export interface SlurmJobEnv {
  /** `SLURM_JOB_ID`: stays the same across requeues. */
  jobId: string;
  /** `SLURM_RESTART_COUNT`: absent (0) on the first run, 1, 2, … after each requeue. */
  restartCount: number;
  /** `SLURMD_NODENAME`: the node this run got. */
  nodeName: string | undefined;
  /** `SLURM_JOB_NAME`. */
  jobName: string | undefined;
}

/** The Slurm job this process runs in, read from `env`; a JobError outside a batch job. */
export function slurmJobEnv(env: NodeJS.ProcessEnv = process.env): SlurmJobEnv {
  const jobId = env.SLURM_JOB_ID ?? env.SLURM_JOBID;
  if (!jobId) {
    throw new JobError(
      'not inside a Slurm job: SLURM_JOB_ID is not set',
      'ENVIRONMENT',
      "make it the last line of an sbatch script ('cryopipe slurm --sbatch -- PIPELINE' prints one), or use 'cryopipe run' outside Slurm",
    );
  }
  const restarts = Number(env.SLURM_RESTART_COUNT ?? '0');
  return {
    jobId,
    restartCount: Number.isSafeInteger(restarts) && restarts > 0 ? restarts : 0,
    nodeName: env.SLURMD_NODENAME,
    jobName: env.SLURM_JOB_NAME,
  };
}

/** The cryopipe job name a Slurm job uses when none is given: stable across requeues. */
export function defaultJobName(env: SlurmJobEnv): string {
  return `slurm-${env.jobId}`;
}
