import { parseError } from './errors.ts';
import { int } from './numbers.ts';

/** One line of /proc/PID/cgroup. On cgroup v2 there is one line with hierarchyId 0 and no controllers. */
export interface CgroupMembership {
  /** The hierarchy id (first field); 0 for the cgroup v2 unified hierarchy. */
  hierarchyId: number;
  /** Controllers bound to the hierarchy (v1), e.g. ['cpu', 'cpuacct'] or ['name=systemd']; [] on v2. */
  controllers: string[];
  /** Path relative to the hierarchy's mount; may itself contain ':'. */
  path: string;
}

/** Parses the text of /proc/PID/cgroup. */
export function parseCgroup(text: string, path?: string): CgroupMembership[] {
  const out: CgroupMembership[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0)
      throw parseError('cgroup', `unexpected line ${JSON.stringify(line)}`, path);
    const controllers = line.slice(first + 1, second);
    out.push({
      hierarchyId: int(line.slice(0, first), 'cgroup', 'hierarchy ID', path),
      controllers: controllers === '' ? [] : controllers.split(','),
      path: line.slice(second + 1),
    });
  }
  return out;
}
