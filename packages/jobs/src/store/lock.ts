import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname } from 'node:path';
import { JobError } from '../errors.ts';
import { writeJsonAtomic } from './job-store.ts';
import { processExists } from './process-exists.ts';

export interface LockHolder {
  pid: number;
  operation: string;
  since: string;
}

/**
 * The kernel-side name of a job's lock: an abstract unix socket (Linux),
 * derived from the job directory's real path so two homes never collide.
 */
export function lockSocketName(lockPath: string): string {
  let dir = dirname(lockPath);
  try {
    dir = realpathSync(dir);
  } catch {
    // The job directory vanished: the plain path still names it uniquely.
  }
  const digest = createHash('sha256').update(dir).digest('hex').slice(0, 32);
  return `\0cryopipe-lock-${digest}`;
}

function bind(name: string): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve(undefined);
      else reject(err);
    });
    server.listen(name, () => {
      server.unref(); // holding the lock must not keep the process alive
      resolve(server);
    });
  });
}

function readHolder(path: string): LockHolder | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
  } catch {
    return undefined; // not written yet, or left behind by an owner that died
  }
}

/**
 * Who holds the lock, for the message: the file is written just after the
 * socket is bound, so give a holder that just won a moment to write it, and
 * never name a holder that is dead (a file left by an owner that crashed).
 */
async function currentHolder(lockPath: string): Promise<LockHolder | undefined> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const holder = readHolder(lockPath);
    if (holder && processExists(holder.pid)) return holder;
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}

/**
 * An exclusive per-job lock. Binding an abstract unix socket is atomic and
 * the kernel releases it when the owner exits, however it exits, so there is
 * never a stale lock to take over and no takeover race. The file at
 * `lockPath` only says who holds it, for the message the second caller gets.
 * A busy job fails at once (exit 4), or after `waitMs` if given.
 */
export async function acquireLock(
  lockPath: string,
  operation: string,
  opts: { waitMs?: number } = {},
): Promise<() => void> {
  const name = lockSocketName(lockPath);
  const deadline = Date.now() + (opts.waitMs ?? 0);
  for (;;) {
    const server = await bind(name);
    if (server) {
      const holder: LockHolder = { pid: process.pid, operation, since: new Date().toISOString() };
      try {
        writeJsonAtomic(lockPath, holder);
      } catch {
        // The job directory is gone (rm raced us): the socket alone still excludes others.
      }
      return () => {
        if (readHolder(lockPath)?.pid === process.pid) rmSync(lockPath, { force: true });
        server.close();
      };
    }
    if (Date.now() >= deadline) {
      const holder = await currentHolder(lockPath);
      throw new JobError(
        holder
          ? `the job is busy: ${holder.operation} by pid ${holder.pid} since ${holder.since}`
          : 'the job is busy: another cryopipe process holds its lock',
        'BUSY',
        'wait for it to finish, then try again',
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
