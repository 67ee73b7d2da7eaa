export { type BreakpointSupport, probeHardwareBreakpoints } from './breakpoints.ts';
export {
  CriuClient,
  type DumpResult,
  type Features,
  type PageServer,
  type PageServerResult,
  type PreDumpResult,
  type RestoreResult,
  type SwrkOptions,
  type VersionInfo,
} from './client.ts';
export { type CriuVersion, findCriu, MIN_CRIU_VERSION } from './criu-binary.ts';
export { CriuError, type CriuErrorCode, type CriuErrorDetails } from './errors.ts';
export {
  fileInheritKey,
  type InheritedFileOptions,
  openInheritedFile,
} from './inherited-file.ts';
export { errorLines, isHarmlessNoise } from './log.ts';
export { ADDON_ENV } from './native.ts';
export type { CriuNotification, HookResult, NotifyHooks } from './notify.ts';
export type {
  CgroupMode,
  DumpOptions,
  ImageOptions,
  NetworkLockMethod,
  PageServerOptions,
  RawCriuOpts,
  RestoreOptions,
} from './options.ts';
export {
  type CriuStats,
  type DumpStats,
  parseStatsImage,
  type RestoreStats,
  readStats,
} from './stats.ts';
