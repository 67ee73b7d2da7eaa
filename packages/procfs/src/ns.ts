import { parseError } from './errors.ts';

/** Namespace kinds as named under /proc/PID/ns. */
export type NamespaceType =
  | 'cgroup'
  | 'ipc'
  | 'mnt'
  | 'net'
  | 'pid'
  | 'pid_for_children'
  | 'time'
  | 'time_for_children'
  | 'user'
  | 'uts'
  | (string & {});

/** A namespace identity: two processes share a namespace when type and inode are equal. */
export interface Namespace {
  /** The type printed in the link, e.g. 'net' (pid_for_children prints 'pid'). */
  type: string;
  /** The namespace's inode: two processes share the namespace when it is equal. */
  inode: number;
}

/** Parses the target of a /proc/PID/ns/* link, e.g. "net:[4026531840]". */
export function parseNamespaceLink(target: string, path?: string): Namespace {
  const m = /^([a-z_]+):\[(\d+)\]$/.exec(target);
  if (!m)
    throw parseError(
      'ns link',
      `target is ${JSON.stringify(target)}, expected "type:[inode]"`,
      path,
    );
  return { type: m[1]!, inode: Number(m[2]) };
}
