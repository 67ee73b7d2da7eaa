/**
 * @cryopipe/jobs — the cryopipe job engine as a library.
 *
 * Start a pipeline so CRIU can checkpoint it, checkpoint it (live or
 * stopping), restore it (in place or as a copy), wait for it, export it as
 * an archive and import it elsewhere. Every failure is a {@link JobError}
 * with a `code` and a hint; nothing here prints or exits.
 *
 * @packageDocumentation
 */

// Adoption of a job already running in a terminal.
export { type AdoptOutcome, adoptProcess } from './adopt/adopt-job.ts';
export { type AdoptPlan, planAdoption } from './adopt/adopt-plan.ts';
export { attachTerminal } from './adopt/adopt-terminal.ts';
// Archives.
export type { ArchivedOutput, ExportManifest } from './archive/job-archive.ts';
export {
  type ImportOptions,
  type ImportOutcome,
  importJob,
  type OutputPlacement,
} from './archive/job-archive-read.ts';
export { type ExportOptions, exportJob } from './archive/job-archive-write.ts';
export {
  keyId,
  loadSecret,
  loadSigningKey,
  newKeyFiles,
  rawPublicKey,
  readPublicKeyFile,
  type TrustedKey,
  trustedKeys,
  trustedKeysDir,
  trustKey,
} from './archive/signing.ts';
export type { Authenticity } from './archive/trust.ts';
// Checkpoints.
export {
  type CheckpointOptions,
  type CheckpointOutcome,
  checkpointJob,
  type PreDumpMode,
} from './checkpoint/checkpoint-job.ts';
export {
  assertCheckpointOf,
  type CheckpointMeta,
  parseCheckpointMeta,
  readCheckpointMeta,
} from './checkpoint/checkpoint-meta.ts';
// Diagnosis of any process tree.
export {
  blockingFindings,
  diagnoseSnapshot,
  diagnoseTree,
  type Evidence,
  type Finding,
  formatFindings,
  type Severity,
} from './diagnose/diagnosis.ts';
export {
  checkFile,
  type FileCheck,
  type FileOpen,
  type FileRecord,
  reconcileFiles,
  recordFile,
} from './integrity/file-state.ts';
export { assertImagesPrivate } from './integrity/image-safety.ts';
export { runningSealer, sealCheckpoint, waitForSealer } from './integrity/seal.ts';
// The machine: root, criu.
export { requireRoot } from './machine/criu.ts';
// Moving a running job to another machine.
export { type MigrateOptions, type MigrateOutcome, migrateJob } from './migrate/migrate-job.ts';
export { type ReceiveOptions, type ReceiveOutcome, receiveJob } from './migrate/receive-job.ts';
export { toSpawnSpec } from './pipeline/pipeline-spec.ts';
// Pipelines.
export {
  type PipelineSyntax,
  parsePipelineArgv,
  parsePipelineString,
  type Redirection,
  type StageSyntax,
} from './pipeline/pipeline-syntax.ts';
export { type StartedJob, type StartJobOptions, startJob } from './pipeline/start-job.ts';
export {
  directoryBytes,
  meterDirectory,
  noMeter,
  noProgress,
  type Progress,
  type ProgressMeter,
} from './progress.ts';
export { type RestoreOptions, type RestoreOutcome, restoreJob } from './restore/restore-job.ts';
// Periodic checkpoints.
export {
  type CheckpointerState,
  runningCheckpointer,
  runPeriodicCheckpointer,
  startPeriodicCheckpointer,
} from './schedule/periodic-checkpointer.ts';
export {
  DEFAULT_KEEP,
  formatInterval,
  parseDuration,
  parseKeep,
} from './schedule/schedule-duration.ts';
export { parseSchedule } from './schedule/schedule-options.ts';
export { setSchedule } from './schedule/set-schedule.ts';
// Slurm: a pipeline as the main process of a batch job.
export {
  DEFAULT_WARN_SECONDS,
  type SbatchScriptOptions,
  sbatchScript,
  shellQuote,
} from './slurm/sbatch-script.ts';
export { parseScontrol, scontrol } from './slurm/scontrol.ts';
export {
  parseSignalSpec,
  type SignalSpec,
  signalSpecInScript,
} from './slurm/signal-spec.ts';
export { defaultJobName, type SlurmJobEnv, slurmJobEnv } from './slurm/slurm-env.ts';
export {
  gatherSlurmFacts,
  type HomeFileSystem,
  homeFileSystem,
  type SlurmFacts,
  type SlurmFinding,
  type SlurmPartition,
  slurmFindings,
} from './slurm/slurm-facts.ts';
export {
  killTree,
  type SlurmJobOptions,
  type SlurmJobRun,
  type SlurmOutcome,
  superviseSlurmJob,
} from './slurm/slurm-job.ts';
// The job store: everything @cryopipe/jobs/store has, the same bindings.
export * from './store-entry.ts';
