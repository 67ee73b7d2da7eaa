import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  existsSync,
  linkSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { JobError } from '../errors.ts';
import { unsafeDirectoryReason } from './home.ts';
import { writeJsonAtomic } from './job-store.ts';
import { processExists } from './process-exists.ts';

/** Who holds a job's lock, as recorded in the lock file. */
export interface LockHolder {
  /** Pid of the holding process. */
  pid: number;
  /** What the holder is doing, e.g. 'checkpoint' or 'restore'. */
  operation: string;
  /** When the lock was taken, ISO 8601. */
  since: string;
}

/**
 * How long racers that only see each other (nobody holds the lock yet) keep
 * trying before they give up, even when told not to wait.
 */
const CONTENTION_MS = 3000;

/** `LOCK.new-PID-R`: bound, not yet listening; `LOCK.live-PID-R`: a contender; `LOCK.held-PID-R`: the holder. */
const NEW = '.new-';
const LIVE = '.live-';
const HELD = '.held-';

/**
 * An exclusive per-job lock that only the job directory's owner can take.
 *
 * Each contender publishes a listening unix socket as its own uniquely named
 * file next to `lockPath` (`lock.live-PID-R`, bound under another name and
 * renamed in only once it listens), then scans for other contenders' sockets:
 * if one of them accepts a connection, it withdraws; if none does, it holds
 * the lock. Of two contenders, the one that publishes second scans after the
 * first published, so it sees it (unless the first already withdrew): two
 * can never both hold. A socket whose process died refuses connections
 * (ECONNREFUSED) at once, however the process died, and since its name is
 * never used again it is simply deleted: there is no stale lock and no
 * takeover race. The sockets live in the private (0700) job directory, so no
 * other user can create one there, or even reach the ones there; a directory
 * that other users could write is refused.
 *
 * Racers that all withdraw try again after a random pause; the holder adds
 * a `lock.held-…` link so that others stop at once. The file at `lockPath`
 * only says who holds it, for the message the second caller gets. A busy job
 * fails at once (exit 4), or after `waitMs` if given.
 */
export async function acquireLock(
  lockPath: string,
  operation: string,
  opts: { waitMs?: number } = {},
): Promise<() => void> {
  const dir = dirname(lockPath);
  const base = basename(lockPath);
  assertPrivateDirectory(dir);
  const started = Date.now();
  const deadline = started + (opts.waitMs ?? 0);
  for (;;) {
    const entry = await publish(dir, base);
    const others = await liveContenders(dir, base, entry.id);
    if (others.length === 0) {
      linkSync(join(dir, `${base}${LIVE}${entry.id}`), join(dir, `${base}${HELD}${entry.id}`));
      const holder: LockHolder = { pid: process.pid, operation, since: new Date().toISOString() };
      try {
        writeJsonAtomic(lockPath, holder);
      } catch {
        // The job directory is gone (rm raced us): the socket alone still excludes others.
      }
      return () => {
        if (readHolder(lockPath)?.pid === process.pid) rmSync(lockPath, { force: true });
        entry.withdraw();
      };
    }
    entry.withdraw();
    const held = others.some((id) => existsSync(join(dir, `${base}${HELD}${id}`)));
    const now = Date.now();
    if (now >= deadline && (held || now >= started + CONTENTION_MS)) {
      const holder = await currentHolder(lockPath);
      throw new JobError(
        holder
          ? `the job is busy: ${holder.operation} by pid ${holder.pid} since ${holder.since}`
          : 'the job is busy: another cryopipe process holds its lock',
        'BUSY',
        'wait for it to finish, then try again',
      );
    }
    // Racers that only saw each other back off by a random amount, so one gets through.
    await sleep(held ? 100 : 5 + Math.random() * 45);
  }
}

/**
 * The lock's directory must be a real directory of ours (or root's) that
 * nobody else can write: otherwise another user could plant or remove lock
 * sockets, or swap the directory.
 */
export function assertPrivateDirectory(dir: string): void {
  let reason: string | undefined;
  try {
    reason = unsafeDirectoryReason(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new JobError(`can't lock ${dir}: ${code}`, code === 'ENOENT' ? 'NOT_FOUND' : 'FAILED');
  }
  if (reason) {
    throw new JobError(
      `refusing to lock ${dir}: it ${reason}, so another user could take or break its lock`,
      'REFUSED',
      `make it yours and private (chown $(id -u) ${dir}; chmod 700 ${dir}), then try again`,
    );
  }
}

interface Entry {
  id: string;
  withdraw: () => void;
}

/** Creates this process's listening socket and makes it visible as `LOCK.live-ID`. */
async function publish(dir: string, base: string): Promise<Entry> {
  const id = `${process.pid}-${randomBytes(6).toString('hex')}`;
  // A directory descriptor keeps socket addresses short (unix socket paths end at 107 bytes).
  const dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  const fresh = join(dir, `${base}${NEW}${id}`);
  const live = join(dir, `${base}${LIVE}${id}`);
  const held = join(dir, `${base}${HELD}${id}`);
  let server: Server | undefined;
  const withdraw = () => {
    // Names first, then the socket: a name never points at a closed socket of a live owner.
    for (const p of [held, live, fresh]) rmSync(p, { force: true });
    server?.close();
    closeSync(dirFd);
  };
  try {
    server = await listen(`/proc/self/fd/${dirFd}/${base}${NEW}${id}`);
    // Only a socket that already listens becomes visible to the others: a bound but
    // not yet listening one would refuse connections and look like a dead holder's.
    renameSync(fresh, live);
    return { id, withdraw };
  } catch (err) {
    withdraw();
    throw err;
  }
}

function listen(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((c) => c.destroy());
    server.once('error', reject);
    server.listen(path, () => {
      server.unref(); // holding the lock must not keep the process alive
      resolve(server);
    });
  });
}

/** Ids of the other contenders whose socket still listens; dead ones are deleted on the way. */
async function liveContenders(dir: string, base: string, own: string): Promise<string[]> {
  const live: string[] = [];
  const dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(`${base}.`)) continue;
      const kind = name.slice(base.length);
      if (kind.startsWith(NEW)) {
        // Bound but never renamed: its process died in between (or is doing it right now).
        const pid = Number(kind.slice(NEW.length).split('-')[0]);
        if (!processExists(pid)) rmSync(join(dir, name), { force: true });
        continue;
      }
      const isLive = kind.startsWith(LIVE);
      if (!isLive && !kind.startsWith(HELD)) continue;
      const id = kind.slice(LIVE.length);
      if (id === own) continue;
      const state = await probe(`/proc/self/fd/${dirFd}/${name}`);
      if (state === 'dead') rmSync(join(dir, name), { force: true });
      else if (state === 'live' && isLive) live.push(id);
    }
  } finally {
    closeSync(dirFd);
  }
  return live;
}

/**
 * Whether a socket file has a listener. ECONNREFUSED: its owner closed it or
 * died (for good: names are never reused); ENOENT: withdrawn meanwhile.
 * Anything else (a full backlog) counts as alive: never delete in doubt.
 */
function probe(path: string): Promise<'live' | 'dead' | 'gone'> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolve('live');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.destroy();
      resolve(err.code === 'ECONNREFUSED' ? 'dead' : err.code === 'ENOENT' ? 'gone' : 'live');
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
 * lock is won, so give a holder that just won a moment to write it, and
 * never name a holder that is dead (a file left by an owner that crashed).
 */
async function currentHolder(lockPath: string): Promise<LockHolder | undefined> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const holder = readHolder(lockPath);
    if (holder && processExists(holder.pid)) return holder;
    await sleep(50);
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
