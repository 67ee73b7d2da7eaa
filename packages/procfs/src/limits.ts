import { parseError } from './errors.ts';
import { int } from './numbers.ts';

/** One row of /proc/PID/limits; null means unlimited. */
export interface ResourceLimit {
  /** The soft limit, in the unit of the limit; null when unlimited. */
  soft: number | null;
  /** The hard limit (ceiling for the soft limit); null when unlimited. */
  hard: number | null;
  /** 'seconds', 'bytes', 'processes', 'files', 'signals', 'locks', 'us', or '' when the kernel prints none. */
  units: string;
}

/** Limits keyed by the kernel's row name, e.g. "Max open files". */
export type ResourceLimits = Record<string, ResourceLimit>;

const ROW = /^(.+?)\s{2,}(unlimited|\d+)\s+(unlimited|\d+)\s*(\S*)\s*$/;

/** Parses the text of /proc/PID/limits. */
export function parseLimits(text: string, path?: string): ResourceLimits {
  const lines = text.split('\n');
  if (!lines[0]?.startsWith('Limit'))
    throw parseError('limits', 'no "Limit ... Units" header', path);
  const out: ResourceLimits = Object.create(null);
  for (const line of lines.slice(1)) {
    if (line.trim() === '') continue;
    const m = ROW.exec(line);
    if (!m) throw parseError('limits', `unexpected line ${JSON.stringify(line)}`, path);
    const value = (v: string) => (v === 'unlimited' ? null : int(v, 'limits', m[1]!, path));
    out[m[1]!] = { soft: value(m[2]!), hard: value(m[3]!), units: m[4]! };
  }
  return out;
}
