// The cryopipe CLI as a library: run it in-process, or reuse its pieces.

export { checkpointJob } from './checkpoint-job.ts';
export { commands } from './commands/index.ts';
export {
  blockingFindings,
  diagnoseSnapshot,
  diagnoseTree,
  type Evidence,
  type Finding,
  formatFindings,
  type Severity,
} from './diagnosis.ts';
export { CliError, EXIT } from './errors.ts';
export {
  checkFile,
  type FileCheck,
  type FileRecord,
  reconcileFiles,
  recordFile,
} from './file-state.ts';
export { cryopipeHome } from './home.ts';
export { assertImagesPrivate } from './image-safety.ts';
export { type CheckpointRecord, type JobPhase, type JobRecord, JobStore } from './job-store.ts';
export { isJobRoot, type JobState, jobLiveness, type Liveness } from './liveness.ts';
export { main } from './main.ts';
export { toSpawnSpec } from './pipeline-spec.ts';
export {
  MAX_FD,
  type PipelineSyntax,
  PipelineSyntaxError,
  parsePipelineArgv,
  parsePipelineString,
  type Redirection,
  type StageSyntax,
} from './pipeline-syntax.ts';
export { restoreJob } from './restore-job.ts';
