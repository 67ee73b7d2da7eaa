import type { JobErrorCode } from '@cryopipe/jobs/store';

const brand = Symbol.for('cryopipe.CliError');

/** The CLI's exit codes, as documented in the README. */
export const EXIT = {
  /** Success. */
  ok: 0,
  /** The operation failed (criu refused, a job failed, …). */
  failure: 1,
  /** Wrong usage: unknown command or option, bad pipeline. */
  usage: 2,
  /** The job or checkpoint named does not exist. */
  notFound: 3,
  /** Another operation holds the job (checkpoint, restore). */
  busy: 4,
  /** The machine can't do it: not root, criu missing, kernel feature missing. */
  environment: 5,
  /** Refused for safety: images others could write, files changed since the checkpoint. */
  refused: 6,
} as const;

/**
 * The one error type the CLI shows to users: what went wrong, and what to do.
 * `exitCode` follows the documented table in the README.
 */
export class CliError extends Error {
  /** Brand that `is()` checks, so errors are recognised across duplicate package copies. @internal */
  readonly [brand] = true;
  /** Always 'CliError'. */
  override readonly name = 'CliError';
  constructor(
    message: string,
    /** The process exit code to end with; one of EXIT (default EXIT.failure). */
    readonly exitCode: number = EXIT.failure,
    /** What the user can do about it, shown on its own line. */
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  /** True when `value` is a CliError (also from another copy of this package). */
  static is(value: unknown): value is CliError {
    return typeof value === 'object' && value !== null && brand in value;
  }
}

/** The engine's error codes as the CLI's documented exit codes. */
export const EXIT_FOR_CODE: Record<JobErrorCode, number> = {
  FAILED: EXIT.failure,
  USAGE: EXIT.usage,
  NOT_FOUND: EXIT.notFound,
  BUSY: EXIT.busy,
  ENVIRONMENT: EXIT.environment,
  REFUSED: EXIT.refused,
};
