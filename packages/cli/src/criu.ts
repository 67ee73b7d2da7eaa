import { CriuClient, CriuError } from '@cryopipe/criu-client';
import { CliError, EXIT } from './errors.ts';

/** A criu client for one request, with errors turned into CLI errors that say what to do. */
export function openCriu(): CriuClient {
  if (process.geteuid?.() !== 0) {
    throw new CliError(
      'checkpoint and restore need root (CRIU needs CAP_SYS_ADMIN, CAP_SYS_PTRACE and more)',
      EXIT.environment,
      'run cryopipe with sudo',
    );
  }
  try {
    return CriuClient.swrk();
  } catch (err) {
    if (CriuError.is(err))
      throw new CliError(
        err.message,
        EXIT.environment,
        "run 'cryopipe doctor' to see what this machine needs",
        { cause: err },
      );
    throw err;
  }
}

/** CRIU's own words, plus the log lines that matter, as one message. */
export function describeCriuError(err: unknown): string {
  if (!CriuError.is(err)) return (err as Error).message;
  const lines = err.logLines.length ? `\n${err.logLines.map((l) => `  ${l}`).join('\n')}` : '';
  return `${err.message}${lines}`;
}
