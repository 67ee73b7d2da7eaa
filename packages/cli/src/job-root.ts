import { readFileSync } from 'node:fs';
import { isJobRoot } from './liveness.ts';

/**
 * Is `pid` the dump root of job `id` — not merely some cryopipe launcher?
 * Pids are reused: after a job stops, another job's launcher (a plain-mode
 * restore gets its old pids back) can hold its recorded root pid, and
 * checkpointing that would dump the wrong job. The launcher is started with
 * its run directory (…/jobs/ID/run) as argument, and a restore keeps it.
 */
export function isRootOfJob(pid: number, id: string): boolean {
  if (!isJobRoot(pid)) return false;
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.some((arg) => arg.replace(/\/+$/, '').endsWith(`jobs/${id}/run`));
  } catch {
    return false;
  }
}
