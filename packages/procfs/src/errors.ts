const BRAND = Symbol.for('@cryopipe/procfs.ProcfsError');

/**
 * What went wrong, as a caller needs to branch on it:
 * - `NOT_FOUND`: the file or process is gone (the kernel said ENOENT or ESRCH); a process exiting mid-read looks like this.
 * - `PERMISSION_DENIED`: EACCES/EPERM; run as root or as the process owner.
 * - `PARSE`: the text did not have the shape the kernel documents.
 * - `IO`: any other system error (kept apart so NOT_FOUND stays meaningful).
 */
export type ProcfsErrorCode = 'NOT_FOUND' | 'PERMISSION_DENIED' | 'PARSE' | 'IO';

/** The one error type of this package. Recognise it with `ProcfsError.is(err)`, also across duplicate package copies. */
export class ProcfsError extends Error {
  /** What went wrong; see ProcfsErrorCode. */
  readonly code: ProcfsErrorCode;
  /** The /proc path being read or parsed; '' when a parser was called on bare text. */
  readonly path: string;
  /** The underlying error (e.g. the Node system error), when there was one. */
  override readonly cause: unknown;

  constructor(code: ProcfsErrorCode, message: string, path: string, cause?: unknown) {
    super(message);
    this.name = 'ProcfsError';
    this.code = code;
    this.path = path;
    this.cause = cause;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True for a ProcfsError from any copy of this package; with `code`, only for that code. */
  static is(err: unknown, code?: ProcfsErrorCode): err is ProcfsError {
    if (typeof err !== 'object' || err === null || !(BRAND in err)) return false;
    return code === undefined || (err as unknown as ProcfsError).code === code;
  }

  /** Wraps a Node system error (from fs) raised while reading `path`. */
  static fromSystem(err: unknown, path: string): ProcfsError {
    if (ProcfsError.is(err)) return err;
    const errno = (err as { code?: unknown } | null)?.code;
    switch (errno) {
      case 'ENOENT':
      case 'ESRCH':
        return new ProcfsError(
          'NOT_FOUND',
          `${path} does not exist (the process has probably exited)`,
          path,
          err,
        );
      case 'EACCES':
      case 'EPERM':
        return new ProcfsError(
          'PERMISSION_DENIED',
          `permission denied reading ${path}; run as root or as the owner of the process`,
          path,
          err,
        );
      default:
        return new ProcfsError(
          'IO',
          `reading ${path} failed: ${String((err as Error)?.message ?? err)}`,
          path,
          err,
        );
    }
  }
}

/** A PARSE error for `what` (e.g. 'stat'), naming what was wrong in the text. */
export function parseError(what: string, problem: string, path = ''): ProcfsError {
  return new ProcfsError(
    'PARSE',
    `cannot parse ${what}${path ? ` (${path})` : ''}: ${problem}`,
    path,
  );
}
