import { parseError } from './errors.ts';
import { int } from './numbers.ts';

/** The parts of the system-wide /proc/stat this package needs. */
export interface SystemStat {
  /** Boot time, seconds since the epoch. */
  bootTime: number;
  /** "processes": forks since boot; undefined when the line is missing. */
  processesCreated?: number | undefined;
  /** "procs_running": runnable tasks now; undefined when missing. */
  procsRunning?: number | undefined;
  /** "procs_blocked": tasks blocked on I/O now; undefined when missing. */
  procsBlocked?: number | undefined;
}

/** Parses the text of /proc/stat. */
export function parseSystemStat(text: string, path?: string): SystemStat {
  const field = (key: string): string | undefined =>
    new RegExp(`^${key} (.*)$`, 'm').exec(text)?.[1]?.trim();
  const btime = field('btime');
  if (btime === undefined) throw parseError('/proc/stat', 'no "btime" line', path);
  const opt = (key: string) => {
    const v = field(key);
    return v === undefined ? undefined : int(v, '/proc/stat', key, path);
  };
  return {
    bootTime: int(btime, '/proc/stat', 'btime', path),
    processesCreated: opt('processes'),
    procsRunning: opt('procs_running'),
    procsBlocked: opt('procs_blocked'),
  };
}
