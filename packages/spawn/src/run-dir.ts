import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LauncherError } from './errors.ts';

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

/**
 * The file name of stage `index`'s log (its stderr, unless redirected):
 * `stage-1.log` for the first stage. `index` is 0-based like every stage
 * index of this package's API; the name counts from 1, like the stage
 * numbers people read in messages (`stage 1: command not found`). spawn's
 * default stderr is RUNDIR/stageLogName(i); the CLI names its job logs so.
 */
export function stageLogName(index: number): string {
  return `stage-${index + 1}.log`;
}

/** The 0-based stage index of a stageLogName() name, or undefined for any other name. */
export function stageIndexOfLogName(name: string): number | undefined {
  const m = /^stage-([1-9]\d*)\.log$/.exec(name);
  return m ? Number(m[1]) - 1 : undefined;
}
