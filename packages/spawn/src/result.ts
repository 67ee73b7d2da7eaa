// The shapes of a pipeline's outcome: types only, so errors.ts, run-status.ts
// and settle.ts can all import them without importing each other.

/** Where a stage that never ran its command failed: exec(2), chdir, opening or dup'ing an fd. */
export type ExecPhase = 'exec' | 'cwd' | 'open' | 'dup';

/** Why a stage never ran its command (then its exit code is 127 or 126). */
export interface ExecError {
  /** The errno value of the failed call. */
  errno: number;
  /** The errno's name, e.g. `ENOENT`. */
  code: string;
  /** Which step failed before the command could run. */
  phase: ExecPhase;
}

/** One stage's outcome, execa-style: exactly one of exitCode / signal is set. */
export interface StageResult {
  /** The stage's 0-based position in the pipeline. */
  index: number;
  /** The stage's argv joined for display. */
  command: string;
  /** The stage's argv. */
  argv: readonly string[];
  /** The stage's pid in the pipeline's PID namespace (equal to hostPid in plain mode). */
  pid: number;
  /** The stage's pid in the caller's PID namespace. */
  hostPid: number;
  /** The exit code; undefined when a signal ended the stage. */
  exitCode: number | undefined;
  /** The signal that ended the stage; undefined when it exited. */
  signal: NodeJS.Signals | undefined;
  /** Why the command never ran; undefined when it did. */
  execError: ExecError | undefined;
  /** Wall time of the stage, in milliseconds. */
  durationMs: number;
  /** True when the stage exited non-zero, was killed or never ran. */
  failed: boolean;
}

/** A pipeline that finished with status 0. */
export interface PipelineResult {
  /** The run directory: status file and stage logs. */
  runDir: string;
  /** The whole pipeline, `a … | b …`. */
  command: string;
  /** Always 0: a failed pipeline rejects with PipelineError. */
  exitCode: 0;
  /** Wall time of the whole pipeline, in milliseconds. */
  durationMs: number;
  /** Every stage's result, in pipeline order. */
  stages: readonly StageResult[];
}
