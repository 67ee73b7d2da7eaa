import { readFileSync } from 'node:fs';

/**
 * Log lines CRIU prints as errors on every run of some machines although
 * nothing failed: no CAP_SYS_RESOURCE in a VM, and the late-stage plugin
 * hook on restore. They would drown the real cause.
 */
const HARMLESS = [
  /rlimit: Can't setup RLIMIT_NOFILE/,
  /restore late stage hook for external plugin failed/,
];

/** True for a criu log line known to be harmless (an "Error" that does not mean failure). */
export function isHarmlessNoise(line: string): boolean {
  return HARMLESS.some((pattern) => pattern.test(line));
}

/** The `Error (file:line): …` lines of a CRIU log, without the harmless noise. */
export function errorLines(logText: string): string[] {
  return logText
    .split('\n')
    .filter((line) => /\bError \(/.test(line) && !isHarmlessNoise(line))
    .map((line) => line.trim());
}

/** errorLines() of a log file; empty when it cannot be read. */
export function readErrorLines(path: string): string[] {
  try {
    return errorLines(readFileSync(path, 'utf8'));
  } catch {
    return [];
  }
}

/** cr_errmsg without harmless noise; undefined when nothing is left. */
export function meaningfulErrmsg(message: string | undefined): string | undefined {
  if (!message) return undefined;
  const kept = message
    .split('\n')
    .filter((line) => line.trim() !== '' && !isHarmlessNoise(line))
    .join('\n');
  return kept === '' ? undefined : kept;
}
