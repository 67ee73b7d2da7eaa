import { readdirSync, readFileSync } from 'node:fs';

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

/** True when `pid` is a live (non-zombie) launcher process serving `runDir`. */
export function isLauncherFor(pid: number, runDir: string): boolean {
  const argv = cmdline(pid);
  return argv !== undefined && argv.length === 2 && argv[1] === runDir;
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
