import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { CliError, EXIT } from './errors.ts';

export interface LockHolder {
  pid: number;
  operation: string;
  since: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An exclusive per-job lock: a file created with O_EXCL holding the owner's
 * pid. A lock whose owner died (a crashed checkpoint) is taken over, so a
 * crash never wedges a job. A live owner makes the second caller fail at once
 * with who holds it.
 */
export function acquireLock(path: string, operation: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      const holder: LockHolder = { pid: process.pid, operation, since: new Date().toISOString() };
      writeSync(fd, JSON.stringify(holder));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder: LockHolder | undefined;
      try {
        holder = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
      } catch {
        holder = undefined; // half-written by a crashed owner
      }
      if (holder && alive(holder.pid)) {
        throw new CliError(
          `the job is busy: ${holder.operation} by pid ${holder.pid} since ${holder.since}`,
          EXIT.busy,
          'wait for it to finish, then try again',
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new CliError(`could not take the lock ${path}`, EXIT.busy);
}
