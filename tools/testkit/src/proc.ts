import { readdirSync, readFileSync } from 'node:fs';

/**
 * Direct children of `pid` from /proc, across all its threads (a child
 * forked by another thread is listed under that thread); empty once it is
 * gone. For tests that walk a live tree.
 */
export function childrenOf(pid: number): number[] {
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

/**
 * SIGKILLs (or `signal`s) `pid` only while it is still the launcher of job
 * `jobId` (its command line names the job's run directory). A finished job's
 * recorded pid can belong to anyone by the time a test cleans up: pids wrap
 * within minutes on a busy machine, and a blind kill there took down other
 * tests' jobs mid-checkpoint. Returns whether it signalled.
 */
export function killJobRoot(
  pid: number | undefined,
  jobId: string,
  signal: NodeJS.Signals = 'SIGKILL',
): boolean {
  if (!pid) return false;
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return false;
  }
  if (!cmdline.includes(`/jobs/${jobId}/run`)) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
