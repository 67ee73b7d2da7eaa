export { type AttachOptions, attach } from './attach.ts';
export {
  LauncherError,
  LauncherNotFoundError,
  PipelineError,
  PipelineSpecError,
  RunLostError,
  RunStatusError,
  SpawnError,
  type SpawnErrorCode,
} from './errors.ts';
export {
  DEFAULT_PATH,
  MAX_FD,
  MAX_FDS_PER_STAGE,
  MAX_PIPES,
  MAX_STAGES,
  RUN_DIR_FD,
  SPEC_HEADER,
} from './facts.ts';
export type { PipelineHandle, StageHandle } from './handle.ts';
export { type KeeperOptions, type KeeperStarted, startKeeper } from './keeper.ts';
export { LAUNCHER_ENV, launcherPath, launcherVersion } from './launcher-path.ts';
export { currentUmask, isLauncherFor } from './proc.ts';
export type {
  ExecError,
  ExecPhase,
  PipelineResult,
  StageResult,
} from './result.ts';
export { stageIndexOfLogName, stageLogName } from './run-dir.ts';
export {
  parseRunStatus,
  type RunStatus,
  readRunStatus,
  type StageStatus,
  signalName,
} from './run-status.ts';
export { type SpawnOptions, spawnPipeline } from './spawn-pipeline.ts';
export {
  type FdSource,
  type FileMode,
  type PipeEdge,
  type PipelineSpec,
  type ResolvedPipeline,
  type ResolvedSource,
  type ResolvedStage,
  resolvePipeline,
  type StageSpec,
} from './spec.ts';
export { encodeSpec, type PidNamespaceMode } from './spec-encoding.ts';
