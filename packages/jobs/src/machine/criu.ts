import { CriuClient, CriuError, findCriu } from '@cryopipe/criu-client';
import { JobError } from '../errors.ts';
import { hardwareBreakpoints, knownCriuVersion } from './machine-facts.ts';

/**
 * Fails before anything happens when not root: CRIU needs CAP_SYS_ADMIN,
 * CAP_SYS_PTRACE and more to dump or restore.
 */
export function requireRoot(operation: string): void {
  const uid = process.geteuid?.() ?? 0;
  if (uid !== 0) {
    throw new JobError(
      `${operation} needs root (CRIU needs CAP_SYS_ADMIN, CAP_SYS_PTRACE and more); you are uid ${uid}`,
      'ENVIRONMENT',
      'run cryopipe with sudo',
    );
  }
}

/**
 * A criu client for one request, with errors turned into CLI errors that say
 * what to do. Whether criu must avoid hardware breakpoints, and criu's
 * version, come from the per-boot facts in `home` rather than a fresh probe
 * and a VERSION request each time.
 */
export function openCriu(home: string): CriuClient {
  requireRoot('checkpoint and restore');
  try {
    const criuPath = findCriu();
    const version = knownCriuVersion(home, criuPath);
    return CriuClient.swrk({
      criuPath,
      disableBreakpoints: hardwareBreakpoints(home) === 'broken',
      ...(version ? { version } : {}),
    });
  } catch (err) {
    if (CriuError.is(err))
      throw new JobError(
        err.message,
        'ENVIRONMENT',
        "run 'cryopipe doctor' to see what this machine needs",
        { cause: err },
      );
    throw err;
  }
}

/** CRIU's own words, plus the log lines that matter, as one message. */
export function describeCriuError(err: unknown): string {
  if (!CriuError.is(err)) return (err as Error).message;
  // The client's message usually quotes the log already; don't say it twice.
  const quoted = err.logLines.every((l) => err.message.includes(l));
  const lines =
    err.logLines.length && !quoted ? `\n${err.logLines.map((l) => `  ${l}`).join('\n')}` : '';
  return `${err.message}${lines}`;
}
