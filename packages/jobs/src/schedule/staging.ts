import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { processExists } from '../store/process-exists.ts';

/** A staged image set: `cryopipe-JOBID-N-PID`, PID being the cryopipe process that wrote it. */
const STAGED = /^cryopipe-[0-9a-f]{8}-\d+-(\d+)$/;

/**
 * Removes image sets in a staging directory (e.g. /dev/shm) whose cryopipe
 * process died (SIGKILL, OOM, power loss in a VM whose tmpfs survived): they
 * hold process memory and fill RAM until removed. Only directories of ours
 * whose writer no longer exists are removed: a staged checkpoint in progress,
 * another user's set, or a look-alike name that is not a directory stays.
 * Returns the names removed.
 */
export function removeDeadStagingSets(stagingDir: string): string[] {
  const uid = process.geteuid?.() ?? 0;
  let names: string[];
  try {
    names = readdirSync(stagingDir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = STAGED.exec(name);
    if (!m || Number(m[1]) === process.pid || processExists(Number(m[1]))) continue;
    const path = join(stagingDir, name);
    try {
      const st = lstatSync(path);
      if (!st.isDirectory() || st.uid !== uid) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(name);
    } catch {
      // Removed by another checkpoint meanwhile.
    }
  }
  return removed;
}
