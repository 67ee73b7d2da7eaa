import { lstatSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { JobError } from '../errors.ts';

/**
 * Where jobs live: CRYOPIPE_HOME, else /var/lib/cryopipe for root, else
 * $XDG_STATE_HOME/cryopipe (~/.local/state/cryopipe).
 */
export function cryopipeHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CRYOPIPE_HOME) return env.CRYOPIPE_HOME;
  if (process.getuid?.() === 0) return '/var/lib/cryopipe';
  const state = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(state, 'cryopipe');
}

/**
 * mkdir -p with mode 0700 on every directory we create: job directories hold
 * checkpoint images, that is process memory. An existing directory is left
 * as it is (the permission check on restore reports it if it is unsafe).
 */
export function mkdirPrivate(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  return path;
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The real path of `path`, resolved once: symlinks in the part that exists
 * are followed, the rest (not created yet) is appended as it is. Launchers
 * hold their run directory by its real path, so the store must name it so.
 */
export function realPathOf(path: string): string {
  const absolute = resolve(path);
  try {
    return realpathSync(absolute);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(absolute) === absolute)
      return absolute;
    return join(realPathOf(dirname(absolute)), basename(absolute));
  }
}

/**
 * Why a directory that holds jobs or locks is unsafe, or undefined when it
 * is a directory of ours (or root's) that nobody else can write. Another
 * user who can write it could swap job directories, plant checkpoints (run
 * as root on restore) or take locks.
 */
export function unsafeDirectoryReason(path: string, followLinks = false): string | undefined {
  const uid = process.geteuid?.() ?? 0;
  const st = followLinks ? statSync(path) : lstatSync(path);
  if (!st.isDirectory()) return 'is not a directory';
  if (st.uid !== uid && st.uid !== 0)
    return `is owned by uid ${st.uid}, not by you (uid ${uid}) or root`;
  if ((st.mode & 0o022) !== 0) {
    const who = [st.mode & 0o020 ? 'its group' : '', st.mode & 0o002 ? 'others' : '']
      .filter(Boolean)
      .join(' and ');
    return `can be written by ${who} (mode ${(st.mode & 0o7777).toString(8)})`;
  }
  return undefined;
}

/** Refuses (REFUSED, exit 6) a home or jobs/ directory that another user owns or can write. */
export function assertPrivateHome(path: string, what: string): void {
  const reason = unsafeDirectoryReason(path, true);
  if (reason) {
    throw new JobError(
      `refusing to use ${what} ${path}: it ${reason}, so another user could change the jobs in it (and restoring runs their images as root)`,
      'REFUSED',
      `make it yours and private (chown $(id -u) ${path}; chmod 700 ${path}), or point CRYOPIPE_HOME at a directory of your own`,
    );
  }
}
