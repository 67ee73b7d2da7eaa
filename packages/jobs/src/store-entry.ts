/**
 * `@cryopipe/jobs/store` — the job store without the engine: list and load
 * jobs, tell whether they run, wait for them, lock them, read their
 * checkpoints' records. It loads neither criu-client (and its protobuf
 * runtime) nor the archive code, so a tool that only looks at jobs (`cryopipe
 * ps`, `logs`, `wait`) starts as fast as Node allows. Everything here is
 * also exported by `@cryopipe/jobs`: the same classes, not copies.
 *
 * @packageDocumentation
 */

export { JobError, type JobErrorCode } from './errors.ts';
export { formatBytes, formatDuration } from './format.ts';
export { isSealed } from './integrity/seal.ts';
export { PipelineSyntaxError } from './pipeline/pipeline-syntax.ts';
export type { ProgressEvent } from './progress.ts';
export { type ScheduleSummary, scheduleSummary } from './schedule/schedule-summary.ts';
export {
  readSlurmRecord,
  type SlurmRecord,
  type SlurmRunEnd,
  type SlurmRunRecord,
} from './slurm/slurm-record.ts';
export { cryopipeHome } from './store/home.ts';
export {
  type CheckpointRecord,
  type JobPhase,
  type JobRecord,
  type JobRef,
  type JobSchedule,
  JobStore,
} from './store/job-store.ts';
export { withProcScan } from './store/live-root.ts';
export {
  isJobRoot,
  type JobState,
  jobLiveness,
  jobState,
  type Liveness,
  liveRoot,
} from './store/liveness.ts';
export { acquireLock, type LockHolder } from './store/lock.ts';
export { isWithin } from './store/paths.ts';
export { waitForJob } from './store/wait-job.ts';
