import type { JobErrorCode } from '@cryopipe/jobs';

/**
 * The one error type the CLI shows to users: what went wrong, and what to do.
 * `exitCode` follows the documented table in the README.
 */
const brand = Symbol.for('cryopipe.CliError');

export const EXIT = {
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

export class CliError extends Error {
  readonly [brand] = true;
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
    /** What the user can do about it, shown on its own line. */
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
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
