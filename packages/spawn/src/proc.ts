import { readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { RUN_DIR_FD } from './facts.ts';
import { LAUNCHER_ENV } from './launcher-path.ts';

// Minimal /proc reads this package needs; a process may vanish mid-read.

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** argv of a live process (empty for zombies and kernel threads), undefined if gone. */
export function cmdline(pid: number): string[] | undefined {
  const text = read(`/proc/${pid}/cmdline`);
  if (text === undefined) return undefined;
  return text === '' ? [] : text.replace(/\0$/, '').split('\0');
}

/** The NSpid line: host pid first, innermost namespace's pid last. */
export function nsPids(pid: number): number[] | undefined {
  const line = /^NSpid:\s*(.+)$/m.exec(read(`/proc/${pid}/status`) ?? '');
  return line?.[1]?.trim().split(/\s+/).map(Number);
}

/** Host pids of the children of a single-threaded process. */
export function childrenOf(pid: number): number[] {
  const text = read(`/proc/${pid}/task/${pid}/children`) ?? '';
  return text.trim() === '' ? [] : text.trim().split(/\s+/).map(Number);
}

/** The name every cryopipe launcher binary has; CRYOPIPE_LAUNCHER may name another file. */
const LAUNCHER_NAME = 'cryopipe-launch';

/** Is the executable of `pid` a cryopipe launcher? False when it is gone or unreadable. */
function runsLauncher(pid: number): boolean {
  let exe: string;
  try {
    // A binary rebuilt or reinstalled under a running job reads as "PATH (deleted)".
    exe = readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '');
  } catch {
    return false; // gone, a zombie or kernel thread (no exe), or not ours to inspect
  }
  if (basename(exe) === LAUNCHER_NAME) return true;
  const override = process.env[LAUNCHER_ENV];
  return override !== undefined && exe === realPath(override);
}

function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/** Zombie (Z) or dead (X): the pid is still taken, but nothing runs there. */
function isZombie(pid: number): boolean {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === undefined) return true;
  return /^ [ZX] /.test(stat.slice(stat.lastIndexOf(')') + 1));
}

/** The directory `pid` holds open on RUN_DIR_FD, or undefined when that fd is no directory. */
function runDirHeld(pid: number): string | undefined {
  const fd = `/proc/${pid}/fd/${RUN_DIR_FD}`;
  try {
    return statSync(fd).isDirectory() ? readlinkSync(fd) : undefined;
  } catch {
    return undefined;
  }
}

/** The run directory named on a command line: `cryopipe-launch RUNDIR` or `… --keep RUNDIR …`. */
function runDirArgument(pid: number): string | undefined {
  const argv = cmdline(pid) ?? [];
  if (argv.length === 2) return argv[1];
  if (argv[1] === '--keep') return argv[2];
  return undefined;
}

/**
 * Is `pid` a live cryopipe launcher serving the run directory `runDir` (a
 * launcher started for it, its namespace init, or the keeper of an adopted
 * job)? Pids are reused: after a run stops, another process, even another
 * run's launcher (a plain-mode restore gets its old pids back), can hold a
 * recorded pid, and signalling or checkpointing it would hit the wrong run.
 * So all of these must hold:
 *
 * 1. the process is not a zombie;
 * 2. its executable is named `cryopipe-launch` (also when that file was
 *    replaced since: "(deleted)"), or is the file `$CRYOPIPE_LAUNCHER` names;
 * 3. it belongs to `runDir`: when it holds a directory on RUN_DIR_FD (every
 *    launcher, namespace init and keeper does), that directory is `runDir`, compared
 *    as the kernel names it, so symlinks in `runDir` do not matter. Only
 *    without one (a launcher or keeper built before they held one) does the
 *    command line decide:
 *    `cryopipe-launch RUNDIR` or `cryopipe-launch --keep RUNDIR …`. The
 *    descriptor wins because a copy restored into another run directory
 *    (CRIU inherit-fd) keeps the original's command line.
 */
export function isLauncherFor(pid: number, runDir: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (!runsLauncher(pid) || isZombie(pid)) return false;
  const wanted = [resolve(runDir), realPath(runDir)];
  const held = runDirHeld(pid);
  if (held !== undefined) return wanted.includes(held);
  const named = runDirArgument(pid);
  return named !== undefined && wanted.includes(resolve(named));
}

/**
 * The calling process's file mode creation mask, read from /proc/self/status
 * (process.umask() without an argument is deprecated, and setting it to read
 * it races with other threads). 0o022 on kernels before 4.7, which lack the line.
 */
export function currentUmask(): number {
  const line = /^Umask:\s*([0-7]+)$/m.exec(read('/proc/self/status') ?? '');
  return line ? Number.parseInt(line[1]!, 8) : 0o022;
}

/**
 * Finds the dump root serving `runDir` by scanning /proc: the namespace
 * init (innermost pid 1) in PID-namespace mode, else the launcher itself.
 */
export function findRootPid(runDir: string): number | undefined {
  let plain: number | undefined;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (!isLauncherFor(pid, runDir)) continue;
    const ns = nsPids(pid);
    if (ns && ns.length > 1 && ns[ns.length - 1] === 1) return pid;
    // In plain mode the launcher has no launcher parent; the outer of a pidns run has a pidns child.
    if (!childrenOf(pid).some((c) => isLauncherFor(c, runDir))) plain = pid;
  }
  return plain;
}

/** Maps namespace pids of the root's children to host pids. */
export function hostPidsOfChildren(rootPid: number): Map<number, number> {
  const map = new Map<number, number>();
  for (const child of childrenOf(rootPid)) {
    const ns = nsPids(child);
    if (ns && ns.length > 0) map.set(ns[ns.length - 1]!, ns[0]!);
  }
  return map;
}
