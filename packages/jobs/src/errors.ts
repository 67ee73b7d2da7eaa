const brand = Symbol.for('cryopipe.JobError');

/** What kind of failure a JobError is; stable across versions, for front ends to map. */
export type JobErrorCode =
  /** The operation failed (criu refused, a job failed, …). */
  | 'FAILED'
  /** Wrong input: a bad pipeline, option value or job reference. */
  | 'USAGE'
  /** The job or checkpoint named does not exist. */
  | 'NOT_FOUND'
  /** Another operation holds the job (checkpoint, restore). */
  | 'BUSY'
  /** The machine can't do it: not root, criu missing, a kernel feature missing. */
  | 'ENVIRONMENT'
  /** Refused for safety: images others could write, files changed since the checkpoint. */
  | 'REFUSED';

/**
 * The one error type of the job engine: what went wrong, a `code` that says
 * what kind of failure it is, and a hint a person can act on. Front ends map
 * codes to their own conventions (the CLI to exit codes, a web service to
 * HTTP statuses); recognised across duplicate package copies by `JobError.is`.
 */
export class JobError extends Error {
  /** Brand that `is()` checks, so errors are recognised across duplicate package copies. @internal */
  readonly [brand] = true;
  /** Always 'JobError'. */
  override readonly name = 'JobError';
  constructor(
    message: string,
    /** What kind of failure this is (default FAILED). */
    readonly code: JobErrorCode = 'FAILED',
    /** What the user can do about it, one sentence. */
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  /** True when `value` is a JobError (also from another copy of this package). */
  static is(value: unknown): value is JobError {
    return typeof value === 'object' && value !== null && brand in value;
  }
}
