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
export type { PipelineHandle, StageHandle } from './handle.ts';
export { type KeeperOptions, type KeeperStarted, startKeeper } from './keeper.ts';
export { LAUNCHER_ENV, launcherPath, launcherVersion } from './launcher-path.ts';
export type {
  ExecError,
  ExecPhase,
  PipelineResult,
  StageResult,
} from './result.ts';
export { RUN_DIR_FD } from './run-dir.ts';
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
export { encodeSpec, type PidNamespaceMode, SPEC_HEADER } from './spec-encoding.ts';
