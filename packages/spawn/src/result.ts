// The shapes of a pipeline's outcome: types only, so errors.ts, run-status.ts
// and settle.ts can all import them without importing each other.

/** Where a stage that never ran its command failed: exec(2), chdir, opening or dup'ing an fd. */
export type ExecPhase = 'exec' | 'cwd' | 'open' | 'dup';

/** Why a stage never ran its command (then its exit code is 127 or 126). */
export interface ExecError {
  errno: number;
  /** The errno's name, e.g. `ENOENT`. */
  code: string;
  phase: ExecPhase;
}

/** One stage's outcome, execa-style: exactly one of exitCode / signal is set. */
export interface StageResult {
  index: number;
  command: string;
  argv: readonly string[];
  pid: number;
  hostPid: number;
  exitCode: number | undefined;
  signal: NodeJS.Signals | undefined;
  execError: ExecError | undefined;
  durationMs: number;
  failed: boolean;
}

/** A pipeline that finished with status 0. */
export interface PipelineResult {
  runDir: string;
  command: string;
  exitCode: 0;
  durationMs: number;
  stages: readonly StageResult[];
}
