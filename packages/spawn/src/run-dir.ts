import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LauncherError } from './errors.ts';

/**
 * The descriptor on which a launched pipeline's dump root keeps its run
 * directory open. The launcher reaches its files through it, never by path,
 * so a restore that hands CRIU another directory for it (inherit-fd) moves
 * the job; and `/proc/PID/fd/3` tells which run a process belongs to.
 */
export const RUN_DIR_FD = 3;

function notEmpty(runDir: string, entries: readonly string[]): LauncherError {
  return new LauncherError(
    runDir,
    `run directory is not empty (${entries.slice(0, 5).join(', ')}); use a new directory per run`,
    undefined,
    '',
  );
}

/**
 * Creates RUNDIR (0700, parents as needed) and RUNDIR/spec (0600) in one
 * synchronous go: a handful of syscalls instead of thread-pool round trips.
 * The spec is created exclusively (O_EXCL), so two runs can never share a
 * directory, and it is complete before the launcher that reads it starts.
 */
export function createRunDir(runDir: string, spec: Uint8Array): void {
  try {
    mkdirSync(runDir, { mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') mkdirSync(runDir, { recursive: true, mode: 0o700 });
    else if (code !== 'EEXIST') throw err;
    else {
      const existing = readdirSync(runDir);
      if (existing.length > 0) throw notEmpty(runDir, existing);
    }
  }
  chmodSync(runDir, 0o700); // mkdir's mode went through the umask; an existing dir kept its own
  try {
    writeFileSync(join(runDir, 'spec'), spec, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw notEmpty(runDir, ['spec']);
    throw err;
  }
}
