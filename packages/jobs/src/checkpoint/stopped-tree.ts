import { Procfs } from '@cryopipe/procfs';

/**
 * Sends SIGCONT to every process of the tree under `rootPid` that is stopped
 * by a signal (state T), as a criu that died mid-dump may leave them, and
 * returns their pids. Processes stopped by a live tracer (state t) are left alone.
 */
export async function resumeStoppedTree(rootPid: number, procfs = new Procfs()): Promise<number[]> {
  let pids: number[];
  try {
    pids = (await procfs.tree(rootPid)).pids;
  } catch {
    return []; // the tree is gone
  }
  const resumed: number[] = [];
  for (const pid of pids) {
    try {
      if ((await procfs.process(pid).stat()).state !== 'T') continue;
      process.kill(pid, 'SIGCONT');
      resumed.push(pid);
    } catch {
      // Gone meanwhile.
    }
  }
  return resumed.sort((a, b) => a - b);
}
