import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { isLauncherFor, LAUNCHER_ENV } from '@cryopipe/spawn';

/**
 * Finding a job's running tree from the live system rather than from
 * job.json: a `restore` or `checkpoint` SIGKILLed at the wrong moment leaves
 * job.json naming a dead pid (or an old phase) while criu brought the tree
 * back. Every launcher holds its job's run directory open on RUN_DIR_FD,
 * and that descriptor is relocated for copies and imports, so it names the
 * job whose files the tree writes, whatever its argv or pid says.
 */

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function link(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** The run directory by its real path (a symlinked home must still match the kernel's view). */
export function realRunDir(runDir: string): string {
  try {
    return realpathSync(runDir);
  } catch {
    return runDir.replace(/\/+$/, '');
  }
}

/**
 * Does the launcher at `pid` serve `runDir`? @cryopipe/spawn's one rule: a
 * live cryopipe launcher (or keeper) holding that directory on RUN_DIR_FD,
 * or naming it in argv when it holds no directory there.
 */
export function servesRunDir(pid: number, runDir: string): boolean {
  return pid > 0 && isLauncherFor(pid, runDir);
}

/** `NSpid:` of a process: its pid in each namespace, the host's first. */
function nsPids(pid: number): number[] {
  const line = /^NSpid:\s*(.+)$/m.exec(read(`/proc/${pid}/status`) ?? '');
  return line ? line[1]!.trim().split(/\s+/).map(Number) : [];
}

function childrenOf(pid: number): number[] {
  const text = (read(`/proc/${pid}/task/${pid}/children`) ?? '').trim();
  return text === '' ? [] : text.split(/\s+/).map(Number);
}

/**
 * Scans /proc for the dump root serving `runDir` (real path): the namespace
 * init in PID-namespace mode (its outer launcher holds the same directory),
 * else the one launcher. O(processes), a few milliseconds: callers try the
 * recorded pid first.
 */
export function scanForRoot(runDir: string): number | undefined {
  for (const pid of scan?.() ?? allPids()) {
    if (!servesRunDir(pid, runDir)) continue;
    const ns = nsPids(pid);
    if (ns.length > 1 && ns.at(-1) === 1) return pid;
    // Plain mode: the launcher itself, unless it is the outer one of a namespace init.
    if (!childrenOf(pid).some((child) => servesRunDir(child, runDir))) return pid;
  }
  return undefined;
}

function allPids(): number[] {
  return readdirSync('/proc').flatMap((name) => (/^\d+$/.test(name) ? [Number(name)] : []));
}

const LAUNCHER_NAME = 'cryopipe-launch';

/**
 * Pids that may be launchers: those whose executable is named like the
 * launcher, or every process when LAUNCHER_ENV points at another binary. A
 * superset of what servesRunDir() (@cryopipe/spawn's one rule) accepts, so
 * filtering by it first never loses a root.
 */
function launcherCandidates(): number[] {
  if (process.env[LAUNCHER_ENV] !== undefined) return allPids();
  return allPids().filter((pid) => {
    const exe = link(`/proc/${pid}/exe`)?.replace(/ \(deleted\)$/, '');
    return exe !== undefined && basename(exe) === LAUNCHER_NAME;
  });
}

let scan: (() => number[]) | undefined;

/**
 * Runs `fn` with one listing of the launchers in /proc shared by every
 * scanForRoot() it makes: `ps` over N jobs that don't run scans /proc once,
 * not N times (O(processes) each). The listing is taken at the first scan;
 * a launcher started after it is missed, as it would be by a `ps` that ran a
 * moment earlier.
 */
export async function withProcScan<T>(fn: () => Promise<T>): Promise<T> {
  if (scan !== undefined) return fn();
  let listed: number[] | undefined;
  scan = () => {
    listed ??= launcherCandidates();
    return listed;
  };
  try {
    return await fn();
  } finally {
    scan = undefined;
  }
}

/** Is the descriptor open for writing (O_WRONLY or O_RDWR, or a directory: the launcher's run dir)? */
function writable(fdinfo: string): boolean {
  const flags = /^flags:\s*([0-7]+)/m.exec(read(fdinfo) ?? '');
  if (!flags) return false;
  const value = Number.parseInt(flags[1]!, 8);
  return (value & 0o3) !== 0 || (value & 0o200000) !== 0; // O_ACCMODE, O_DIRECTORY
}

/**
 * Pids of every process holding a file of the job's run or logs directory
 * for writing (a `tail -f` of a log does not count):
 * the launcher and every stage whose stderr goes to its log. A tree that a
 * crashed restore brought back, or stages that outlived their launcher, show
 * up here even when no launcher answers for the job.
 */
export function jobProcesses(jobDir: string): number[] {
  let real = jobDir.replace(/\/+$/, '');
  try {
    real = realpathSync(jobDir);
  } catch {
    // Gone: the plain path still names it.
  }
  const inside = (target: string) =>
    target === `${real}/run` ||
    target.startsWith(`${real}/run/`) ||
    target.startsWith(`${real}/logs/`);
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${name}/fd`);
    } catch {
      continue; // exited, or a kernel thread
    }
    const holds = (fd: string) =>
      inside(link(`/proc/${name}/fd/${fd}`) ?? '') && writable(`/proc/${name}/fdinfo/${fd}`);
    if (fds.some(holds)) found.push(Number(name));
  }
  return found;
}
