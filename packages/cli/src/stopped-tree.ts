import { readdirSync, readFileSync } from 'node:fs';

function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // The process exited while we looked.
  }
  return out;
}

function isStopped(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'T';
  } catch {
    return false;
  }
}

/**
 * Sends SIGCONT to every process of the tree under `rootPid` that is stopped
 * by a signal (state T), as a criu that died mid-dump may leave them, and
 * returns their pids. Processes stopped by a live tracer (state t) are left alone.
 */
export function resumeStoppedTree(rootPid: number): number[] {
  const resumed: number[] = [];
  const pending = [rootPid];
  const seen = new Set<number>();
  while (pending.length > 0) {
    const pid = pending.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    if (isStopped(pid)) {
      try {
        process.kill(pid, 'SIGCONT');
        resumed.push(pid);
      } catch {
        // Gone meanwhile.
      }
    }
    pending.push(...children(pid));
  }
  return resumed.sort((a, b) => a - b);
}
