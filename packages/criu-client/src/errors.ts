const BRAND = Symbol.for('@cryopipe/criu-client/CriuError');

/** Why a request failed, for callers that branch on it. */
export type CriuErrorCode =
  /** criu answered `success: false`. */
  | 'REQUEST_FAILED'
  /** The criu binary was not found. */
  | 'CRIU_NOT_FOUND'
  /** The criu binary is older than this client supports. */
  | 'CRIU_TOO_OLD'
  /** Not running as root (criu needs CAP_SYS_ADMIN and friends). */
  | 'NOT_ROOT'
  /** Bad options given to the client (nothing was sent to criu). */
  | 'INVALID_OPTIONS'
  /** criu exited or closed the socket without answering. */
  | 'CONNECTION_LOST'
  /** A notify hook returned false or threw, and criu aborted. */
  | 'ABORTED_BY_HOOK';

/** What a CriuError is built from; every field but `code` is optional. */
export interface CriuErrorDetails {
  /** What went wrong. */
  code: CriuErrorCode;
  /** The request type, e.g. `DUMP`, when the error belongs to a request. */
  request?: string | undefined;
  /** criu's `cr_errno` (an errno value) when it sent one. */
  crErrno?: number | undefined;
  /** criu's `cr_errmsg` (its first logged error) when it sent one. */
  crErrmsg?: string | undefined;
  /** The Error lines of criu's log for this request, known harmless noise removed. */
  logLines?: string[] | undefined;
  /** Path of criu's log file for this request, when there is one. */
  logFile?: string | undefined;
  /** The underlying error, when there was one. */
  cause?: unknown;
}

/** The one error type of this package. Use `CriuError.is(err)` across package copies. */
export class CriuError extends Error {
  /** What went wrong; switch on this, not on the message. */
  readonly code: CriuErrorCode;
  /** The request type, e.g. `DUMP`; undefined when the error is not about a request. */
  readonly request: string | undefined;
  /** criu's `cr_errno` (an errno value); undefined when criu sent none. */
  readonly crErrno: number | undefined;
  /** criu's `cr_errmsg` (its first logged error); undefined when criu sent none. */
  readonly crErrmsg: string | undefined;
  /** The Error lines of criu's log for this request, known harmless noise removed; [] when none. */
  readonly logLines: string[];
  /** Path of criu's log file for this request; undefined when there is none. */
  readonly logFile: string | undefined;

  constructor(message: string, details: CriuErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'CriuError';
    this.code = details.code;
    this.request = details.request;
    this.crErrno = details.crErrno;
    this.crErrmsg = details.crErrmsg;
    this.logLines = details.logLines ?? [];
    this.logFile = details.logFile;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True for a CriuError from any copy of this package. */
  static is(value: unknown): value is CriuError {
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as Record<symbol, unknown>)[BRAND] === true
    );
  }
}
