import type { StageResult } from './result.ts';

const brand = Symbol.for('cryopipe.spawn.error');

/** What went wrong, stable across versions: switch on this, not on messages. */
export type SpawnErrorCode =
  | 'SPEC_INVALID'
  | 'LAUNCHER_NOT_FOUND'
  | 'LAUNCHER_FAILED'
  | 'PIPELINE_FAILED'
  | 'RUN_LOST'
  | 'RUN_STATUS_UNREADABLE';

function hasCode(value: unknown, code?: SpawnErrorCode): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { [brand]?: unknown; code?: unknown };
  return v[brand] === true && (code === undefined || v.code === code);
}

/**
 * Base class of every error thrown by @cryopipe/spawn. `is()` works across
 * duplicate copies of the package (a `Symbol.for` brand), not only `instanceof`.
 */
export class SpawnError extends Error {
  /** Brand that `is()` checks, so errors are recognised across duplicate package copies. @internal */
  readonly [brand] = true;
  /** What went wrong; stable across versions. */
  readonly code: SpawnErrorCode;
  constructor(code: SpawnErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SpawnError';
    this.code = code;
  }
  /** True when `value` is any error of this package (also from another copy of it). */
  static is(value: unknown): value is SpawnError {
    return hasCode(value);
  }
}

/** The spec was rejected before any process started; `problems` lists every issue found. */
export class PipelineSpecError extends SpawnError {
  /** Every problem found in the spec, one sentence each. */
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('SPEC_INVALID', `Invalid pipeline spec:\n- ${problems.join('\n- ')}`);
    this.name = 'PipelineSpecError';
    this.problems = problems;
  }
  /** True when `value` is a PipelineSpecError (code SPEC_INVALID). */
  static override is(value: unknown): value is PipelineSpecError {
    return hasCode(value, 'SPEC_INVALID');
  }
}

/** No launcher binary for this platform (or at CRYOPIPE_LAUNCHER). */
export class LauncherNotFoundError extends SpawnError {
  /** Where the launcher binary was looked for. */
  readonly path: string;
  constructor(path: string, why: string) {
    super(
      'LAUNCHER_NOT_FOUND',
      `cryopipe launcher not usable at ${path}: ${why}. ` +
        'Reinstall @cryopipe/spawn for this platform (linux-' +
        `${process.arch}), build it with \`pnpm --filter @cryopipe/spawn build\`, ` +
        'or point CRYOPIPE_LAUNCHER at a cryopipe-launch binary.',
    );
    this.name = 'LauncherNotFoundError';
    this.path = path;
  }
  /** True when `value` is a LauncherNotFoundError (code LAUNCHER_NOT_FOUND). */
  static override is(value: unknown): value is LauncherNotFoundError {
    return hasCode(value, 'LAUNCHER_NOT_FOUND');
  }
}

/** The launcher refused the spec or could not start the stages; `log` is its launcher.log. */
export class LauncherError extends SpawnError {
  /** The run directory the launcher was given. */
  readonly runDir: string;
  /** The launcher's exit code; undefined when it was killed by a signal. */
  readonly exitCode: number | undefined;
  /** The text of the run's launcher.log, for the message and diagnosis. */
  readonly log: string;
  constructor(runDir: string, reason: string, exitCode: number | undefined, log: string) {
    const tail = log.trim()
      ? `\nlauncher.log:\n${log.trim().split('\n').slice(-10).join('\n')}`
      : '';
    super('LAUNCHER_FAILED', `cryopipe launcher failed in ${runDir}: ${reason}${tail}`);
    this.name = 'LauncherError';
    this.runDir = runDir;
    this.exitCode = exitCode;
    this.log = log;
  }
  /** True when `value` is a LauncherError (code LAUNCHER_FAILED). */
  static override is(value: unknown): value is LauncherError {
    return hasCode(value, 'LAUNCHER_FAILED');
  }
}

/** A stage failed (pipefail: the rightmost non-zero stage decides). Shaped like execa's errors. */
export class PipelineError extends SpawnError {
  /** The run directory: status file and stage logs. */
  readonly runDir: string;
  /** The whole pipeline, `a … | b …`. */
  readonly command: string;
  /** The launcher's exit code: the failing stage's code, or 128+signal. */
  readonly exitCode: number;
  /** The stage whose status became the pipeline's. */
  readonly failedStage: StageResult;
  /** Every stage's result, in pipeline order. */
  readonly stages: readonly StageResult[];
  /** Wall time of the whole pipeline, in milliseconds. */
  readonly durationMs: number;
  constructor(init: {
    runDir: string;
    command: string;
    exitCode: number;
    failedStage: StageResult;
    stages: readonly StageResult[];
    durationMs: number;
  }) {
    const s = init.failedStage;
    const how =
      s.execError !== undefined
        ? `could not start (${s.execError.code} during ${s.execError.phase}), exit code ${s.exitCode}`
        : s.signal !== undefined
          ? `was killed by ${s.signal}`
          : `exited with code ${s.exitCode}`;
    const summary = init.stages
      .map((st) => `  [${st.index}] ${st.command}: ${st.signal ?? `exit ${st.exitCode ?? '?'}`}`)
      .join('\n');
    super(
      'PIPELINE_FAILED',
      `Pipeline failed with exit code ${init.exitCode}: stage ${s.index} (${s.command}) ${how}\n${summary}`,
    );
    this.name = 'PipelineError';
    this.runDir = init.runDir;
    this.command = init.command;
    this.exitCode = init.exitCode;
    this.failedStage = s;
    this.stages = init.stages;
    this.durationMs = init.durationMs;
  }
  /** True when `value` is a PipelineError (code PIPELINE_FAILED). */
  static override is(value: unknown): value is PipelineError {
    return hasCode(value, 'PIPELINE_FAILED');
  }
}

/**
 * The dump root is gone but the status file holds no final status: the tree
 * was checkpointed (CRIU kills it after a dump) or killed. Restore it, then `attach()`.
 */
export class RunLostError extends SpawnError {
  /** The run directory of the lost run. */
  readonly runDir: string;
  /** The pid the dump root had. */
  readonly rootPid: number;
  constructor(runDir: string, rootPid: number) {
    super(
      'RUN_LOST',
      `The pipeline in ${runDir} (root pid ${rootPid}) ended without a final status: ` +
        'it was checkpointed or killed. Restore it with CRIU, then call attach().',
    );
    this.name = 'RunLostError';
    this.runDir = runDir;
    this.rootPid = rootPid;
  }
  /** True when `value` is a RunLostError (code RUN_LOST). */
  static override is(value: unknown): value is RunLostError {
    return hasCode(value, 'RUN_LOST');
  }
}

/** The run directory has no readable status file (not a cryopipe run, or not started yet). */
export class RunStatusError extends SpawnError {
  /** The run directory whose status file could not be read. */
  readonly runDir: string;
  constructor(runDir: string, why: string, cause?: unknown) {
    super('RUN_STATUS_UNREADABLE', `Cannot read the run status in ${runDir}: ${why}`, { cause });
    this.name = 'RunStatusError';
    this.runDir = runDir;
  }
  /** True when `value` is a RunStatusError (code RUN_STATUS_UNREADABLE). */
  static override is(value: unknown): value is RunStatusError {
    return hasCode(value, 'RUN_STATUS_UNREADABLE');
  }
}
